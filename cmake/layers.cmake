# The layers of host/ and kernels/, bottom up, and the layers each one uses. A file may include
# the headers of its own layer and of the layers below it along these arrows (transitively), and
# nothing else; each layer is a static library (backprop_<layer>) that links the same layers, so
# the include arrows and the link arrows are this one table. cmake/check_layers.cmake enforces it
# at every build. kernels is the model's math shared with the GPU (headers) plus the CUDA kernels,
# which only the cuda layer links. cli (the backprop executable) and the Python module sit on top.
set(BACKPROP_LAYERS base kernels data model reference cpu cuda insight train bench sweep serve cli)
set(BACKPROP_USES_base "")
set(BACKPROP_USES_kernels "")
set(BACKPROP_USES_data base kernels)
set(BACKPROP_USES_model data)
set(BACKPROP_USES_reference model)
set(BACKPROP_USES_cpu model)
set(BACKPROP_USES_cuda model)
set(BACKPROP_USES_insight reference)
set(BACKPROP_USES_train reference cpu cuda)
set(BACKPROP_USES_bench train)
set(BACKPROP_USES_sweep train insight)
set(BACKPROP_USES_serve train insight)
set(BACKPROP_USES_cli bench sweep serve)

# BACKPROP_BELOW_<layer>: every layer <layer> may include, itself excluded.
foreach(layer ${BACKPROP_LAYERS})
  set(below "")
  set(todo ${BACKPROP_USES_${layer}})
  while(todo)
    list(POP_FRONT todo next)
    if(NOT next IN_LIST below)
      list(APPEND below ${next})
      list(APPEND todo ${BACKPROP_USES_${next}})
    endif()
  endwhile()
  set(BACKPROP_BELOW_${layer} ${below})
endforeach()
