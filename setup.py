"""Builds the `backprop` extension with the project's own CMake (python/CMakeLists.txt) and puts
the module where setuptools packs it. Options for CMake: $BACKPROP_CMAKE_ARGS (e.g.
"-DBACKPROP_CUDA=OFF"); the build folder is build-pip/."""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = ROOT / "build-pip"
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DBACKPROP_PYTHON=ON",
                        "-DBACKPROP_TESTS=OFF", f"-DPython3_EXECUTABLE={sys.executable}",
                        *shlex.split(os.environ.get("BACKPROP_CMAKE_ARGS", ""))], check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "backprop_python"], check=True)
        built = next((build / "python").glob("backprop*.so"))
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(ext_modules=[Extension("backprop", sources=[])], cmdclass={"build_ext": CMakeBuild})
