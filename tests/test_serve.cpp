// `backprop serve`: the API's pure functions (each kind of bad request, pictures prepared as
// `predict` prepares them, the forward pass and saliency against independent arithmetic), and the
// server over loopback: predictions equal `backprop predict`'s on the same PNGs, a corpus of
// malformed raw requests (tests/data/serve) gets its 4xx and leaves the server answering, eight
// concurrent clients are all answered, and the binary stops cleanly on SIGINT and SIGTERM.
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "helpers.hpp"
#include "insight/image.hpp"
#include "insight/preprocess.hpp"
#include "serve/api.hpp"
#include "serve/server.hpp"

namespace bp {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kData = fs::path(BACKPROP_SOURCE_DIR) / "tests" / "data";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> digit_pngs() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kData))
    if (e.path().extension() == ".png") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

ModelFile test_model(uint64_t seed = 7) {
  ModelFile m;
  m.net = initialise({784, 30, 10}, Init::scaled, seed);
  m.metadata = {{"layers", "784,30,10"}, {"seed", std::to_string(seed)}};
  return m;
}

int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const serve::ApiError& e) {
    return e.status;
  }
  return 200;
}

// A 28x28 picture, 0 black .. 1 white, with a light bar and a fainter blob on black.
GreyImage light_on_dark() {
  GreyImage g;
  g.width = g.height = 28;
  g.pixels.assign(784, 0.0f);
  for (size_t y = 5; y < 22; ++y)
    for (size_t x = 12; x < 15; ++x) g.pixels[y * 28 + x] = 1.0f;
  for (size_t y = 6; y < 9; ++y)
    for (size_t x = 15; x < 19; ++x) g.pixels[y * 28 + x] = 0.6f;
  return g;
}

TEST(ServeApi, PngUploadsArePreparedAsPredictPreparesTheFile) {
  for (const fs::path& png : digit_pngs()) {
    SCOPED_TRACE(png.string());
    EXPECT_EQ(serve::input_from_request("image/png", slurp(png)), prepare_digit(read_grey_image(png.string())).pixels);
  }
  // Media-type parameters and case are allowed.
  const fs::path first = digit_pngs().front();
  EXPECT_EQ(serve::input_from_request("Image/PNG; foo=bar", slurp(first)),
            serve::input_from_request("image/png", slurp(first)));
}

TEST(ServeApi, JsonPixelsAndThePngOfTheSamePictureGiveOneInput) {
  test::TempDir dir;
  const GreyImage g = light_on_dark();
  write_png(dir.file("g.png"), g);
  const std::vector<uint8_t> from_png = serve::input_from_request("image/png", slurp(dir.file("g.png")));
  json flat = json::array(), rows = json::array();
  for (size_t y = 0; y < 28; ++y) {
    json row = json::array();
    for (size_t x = 0; x < 28; ++x) row.push_back(g.pixels[y * 28 + x]), flat.push_back(g.pixels[y * 28 + x]);
    rows.push_back(row);
  }
  EXPECT_EQ(serve::input_from_request("application/json", json{{"pixels", flat}}.dump()), from_png);
  EXPECT_EQ(serve::input_from_request("application/json", json{{"pixels", rows}}.dump()), from_png);
  // Inversion: the same picture dark on light prepares to the same input.
  json inverted = json::array();
  for (float v : g.pixels) inverted.push_back(1.0f - v);
  EXPECT_EQ(serve::input_from_request("application/json", json{{"pixels", inverted}}.dump()), from_png);
}

TEST(ServeApi, UnpreparedJsonIsTheInputItself) {
  const LabelledImages images = synthetic_images(1, 28, 28, 10, 3);
  json flat = json::array();
  for (uint8_t b : images.pixels) flat.push_back(double(b) / 255.0);
  EXPECT_EQ(serve::input_from_request("application/json", json{{"pixels", flat}, {"prepare", false}}.dump()),
            images.pixels);
}

// The forward pass written out here in float, independently of the reference code.
std::vector<std::vector<double>> forward(const Network& net, const std::vector<uint8_t>& pixels) {
  std::vector<double> a(pixels.begin(), pixels.end());
  for (double& v : a) v /= 255.0;
  std::vector<std::vector<double>> layers;
  for (size_t l = 0; l + 1 < net.sizes.size(); ++l) {
    std::vector<double> z(net.sizes[l + 1]);
    for (size_t j = 0; j < z.size(); ++j) {
      double s = net.biases[l][j];
      for (size_t k = 0; k < a.size(); ++k) s += double(net.w(l, j, k)) * a[k];
      z[j] = 1.0 / (1.0 + std::exp(-s));
    }
    layers.push_back(z);
    a = z;
  }
  return layers;
}

TEST(ServeApi, AnalysisIsTheForwardPassAndSaliencyItsGradient) {
  const ModelFile m = test_model();
  const reference::Params p = reference::from_network(m.net);
  const std::vector<uint8_t> pixels = serve::input_from_request("image/png", slurp(digit_pngs().front()));
  const json r = serve::analyse(p, pixels);
  const auto expected = forward(m.net, pixels);
  ASSERT_EQ(r["input"].size(), 784u);
  for (size_t i = 0; i < 784; ++i) EXPECT_NEAR(r["input"][i].get<double>(), pixels[i] / 255.0, 1e-6);
  ASSERT_EQ(r["hidden"].size(), 1u);
  ASSERT_EQ(r["hidden"][0].size(), 30u);
  double worst = 0;
  for (size_t j = 0; j < 30; ++j) worst = std::max(worst, std::abs(r["hidden"][0][j].get<double>() - expected[0][j]));
  ASSERT_EQ(r["outputs"].size(), 10u);
  for (size_t j = 0; j < 10; ++j) worst = std::max(worst, std::abs(r["outputs"][j].get<double>() - expected[1][j]));
  std::printf("largest difference, served activations against the float loop: %.3g\n", worst);
  EXPECT_LT(worst, 1e-5);
  const auto& out = expected[1];
  EXPECT_EQ(r["digit"].get<int>(), int(std::max_element(out.begin(), out.end()) - out.begin()));
  // Saliency: d a_digit / d x_k by central differences on the inked pixels and a few blank ones.
  const int digit = r["digit"];
  ASSERT_EQ(r["saliency"].size(), 784u);
  size_t checked = 0;
  for (size_t k = 0; k < 784 && checked < 12; k += 37, ++checked) {
    reference::Vector x(784);
    for (size_t i = 0; i < 784; ++i) x[i] = pixels[i] / 255.0;
    const double h = 1e-5;
    x[k] += h;
    const double up = reference::feedforward(p, x)[size_t(digit)];
    x[k] -= 2 * h;
    const double down = reference::feedforward(p, x)[size_t(digit)];
    EXPECT_NEAR(r["saliency"][k].get<double>(), (up - down) / (2 * h), 1e-4) << "pixel " << k;
  }
}

TEST(ServeApi, EachKindOfBadRequestGetsItsStatusAndOneMessage) {
  const std::string png = slurp(digit_pngs().front());
  const std::string big(serve::kMaxBody + 1, 'x');
  const std::vector<std::tuple<std::string, std::string, int, std::string>> cases = {
      {"image/png", "", 400, "empty"},
      {"image/png", "not a png", 400, "not a readable PNG"},
      {"image/png", png.substr(0, png.size() / 2), 400, "PNG"},
      {"image/png", big, 413, "limit"},
      {"text/plain", png, 415, "Content-Type"},
      {"", png, 415, "Content-Type"},
      {"application/json", "{\"pixels\": [1,", 400, "not valid JSON"},
      {"application/json", "[1, 2]", 400, "object with \"pixels\""},
      {"application/json", "{\"pixels\": 3}", 400, "must be an array"},
      {"application/json", json{{"pixels", std::vector<double>(783, 0.0)}}.dump(), 400, "783 entries"},
      {"application/json", json{{"pixels", std::vector<std::vector<double>>(28, std::vector<double>(27, 0.0))}}.dump(), 400, "28 rows of 28"},
      {"application/json", json{{"pixels", std::vector<double>(784, 1.5)}}.dump(), 400, "between 0 and 1"},
      {"application/json", json{{"pixels", std::vector<std::string>(784, "a")}}.dump(), 400, "numbers"},
      {"application/json", json{{"pixels", std::vector<double>(784, 0.5)}, {"prepare", 1}}.dump(), 400, "\"prepare\""},
      {"application/json", json{{"pixels", std::vector<double>(784, 0.0)}}.dump(), 422, "no ink"},
  };
  for (const auto& [type, body, status, message] : cases) {
    SCOPED_TRACE(type + " " + body.substr(0, 40));
    try {
      serve::input_from_request(type, body);
      ADD_FAILURE() << "accepted";
    } catch (const serve::ApiError& e) {
      EXPECT_EQ(e.status, status);
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

TEST(ServeApi, ModelWeightsAndTheTestSetViews) {
  const LabelledImages test = synthetic_images(300, 28, 28, 10, 11);
  const ModelFile m = test_model();
  const serve::Served s(m, "m.safetensors", test);
  const json model = s.model();
  EXPECT_EQ(model["layers"], json(std::vector<size_t>{784, 30, 10}));
  EXPECT_EQ(model["parameters"].get<size_t>(), m.net.parameter_count());
  EXPECT_EQ(model["settings"]["seed"], "7");
  EXPECT_EQ(model["test_images"].get<size_t>(), 300u);

  const json w = s.weights();
  ASSERT_EQ(w["tiles"].size(), 30u);
  EXPECT_EQ(w["tiles"][4][100].get<float>(), m.net.w(0, 4, 100));

  // The confusion matrix counts every test image once; its off-diagonal is the mistakes list.
  const json c = s.confusion();
  const auto matrix = c["confusion"].get<std::vector<std::vector<size_t>>>();
  size_t total = 0, correct = 0;
  for (size_t i = 0; i < 10; ++i)
    for (size_t j = 0; j < 10; ++j) total += matrix[i][j], correct += i == j ? matrix[i][j] : 0;
  EXPECT_EQ(total, 300u);
  EXPECT_EQ(c["correct"].get<size_t>(), correct);
  const size_t wrong = c["misclassified"];
  EXPECT_EQ(wrong, total - correct);
  ASSERT_GT(wrong, 0u);
  const reference::Params p = reference::from_network(m.net);
  for (size_t k : {size_t{0}, wrong - 1}) {
    const json mk = s.misclassified(std::to_string(k));
    const size_t index = mk["test_index"];
    EXPECT_EQ(mk["label"].get<int>(), int(test.labels[index]));
    EXPECT_NE(mk["label"], mk["predicted"]);
    EXPECT_EQ(mk["digit"], mk["predicted"]);
    const std::vector<uint8_t> pixels(test.pixels.begin() + long(index * 784), test.pixels.begin() + long((index + 1) * 784));
    EXPECT_EQ(mk["outputs"], serve::analyse(p, pixels)["outputs"]);
  }
  EXPECT_EQ(status_of([&] { s.misclassified(std::to_string(wrong)); }), 404);
  for (const char* bad : {"", "-1", "1e3", "x", " 1", "99999999999999999999"})
    EXPECT_EQ(status_of([&] { s.misclassified(bad); }), 400) << bad;

  const serve::Served without(m, "m.safetensors", std::nullopt);
  EXPECT_EQ(status_of([&] { without.confusion(); }), 404);
  EXPECT_EQ(status_of([&] { without.misclassified("0"); }), 404);
  ModelFile other = m;
  other.net = initialise({100, 10}, Init::scaled, 1);
  EXPECT_THROW(serve::Served(other, "small", std::nullopt), UsageError);
}

// The fuzz target's seed corpus and any input that ever crashed it (tests/fuzz/), replayed: a
// 28x28 input or a 4xx, as the fuzz target demands.
TEST(ServeApi, FuzzCorpusInputsGiveAnInputOrA4xx) {
  const fs::path root = fs::path(BACKPROP_SOURCE_DIR) / "tests" / "fuzz";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(root / "corpus" / "serve_request")) files.push_back(e.path());
  for (const auto& e : fs::directory_iterator(root / "crashes"))
    if (e.path().filename().string().rfind("serve_request-", 0) == 0) files.push_back(e.path());
  ASSERT_GE(files.size(), 8u);
  size_t read = 0;
  for (const fs::path& f : files) {
    const std::string bytes = slurp(f);
    if (bytes.empty()) continue;
    try {
      EXPECT_EQ(serve::input_from_request(bytes[0] % 2 ? "application/json" : "image/png", bytes.substr(1)).size(), 784u) << f;
      ++read;
    } catch (const serve::ApiError& e) {
      EXPECT_GE(e.status, 400) << f;
      EXPECT_LT(e.status, 500) << f;
    }
  }
  EXPECT_GE(read, 7u);  // the six PNGs and the well-formed JSON pictures
}

TEST(ServeApi, APngPromisingAHugePictureIsRefusedBeforeDecoding) {
  // A valid 4096x4096 all-black PNG compresses to a few kilobytes; unpacked it would be 64 MiB
  // of floats per request.
  test::TempDir dir;
  GreyImage big;
  big.width = big.height = 4096;
  big.pixels.assign(big.width * big.height, 0.0f);
  write_png(dir.file("big.png"), big);
  const std::string bytes = slurp(dir.file("big.png"));
  ASSERT_LT(bytes.size(), serve::kMaxBody);
  EXPECT_EQ(status_of([&] { serve::input_from_request("image/png", bytes); }), 400);
  try {
    serve::input_from_request("image/png", bytes);
  } catch (const serve::ApiError& e) {
    EXPECT_NE(std::string(e.what()).find("too large (4096x4096)"), std::string::npos) << e.what();
  }
}

TEST(ServeApi, APngChunkClaimingMoreBytesThanItHasIsRefusedBeforeLibpngAllocatesIt) {
  // A real PNG whose first chunk after IHDR claims 1.5 GB: libpng would allocate that much.
  std::string png = slurp(digit_pngs().front());
  const size_t second = 8 + 12 + 13;  // signature, then IHDR (12 bytes of frame, 13 of data)
  ASSERT_GT(png.size(), second + 8);
  png[second] = '\x5b';
  try {
    serve::input_from_request("image/png", png);
    ADD_FAILURE() << "accepted";
  } catch (const serve::ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_NE(std::string(e.what()).find("runs past the end"), std::string::npos) << e.what();
  }
}

// ---- over loopback ----

struct Running {
  explicit Running(const serve::Served& s, serve::Limits limits = {}) : server(s, limits) {
    port = server.bind("127.0.0.1", 0);
    server.start();
  }
  serve::Server server;
  int port = 0;
};

// Sends raw bytes and returns the status of the response (0 when none came).
int raw_request(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return 0;
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading everything (413)
    sent += size_t(n);
  }
  std::string reply;  // up to the end of the headers: the status is all that is checked
  char buf[4096];
  ssize_t n;
  while (reply.find("\r\n\r\n") == std::string::npos && (n = recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, size_t(n));
  close(fd);
  std::smatch m;
  if (!std::regex_search(reply, m, std::regex("^HTTP/1\\.[01] (\\d{3})"))) return 0;
  return std::stoi(m[1]);
}

TEST(ServeServer, PredictionsOverLoopbackEqualBackpropPredict) {
  test::TempDir dir;
  const ModelFile m = test_model(3);
  save_model(dir.file("m.safetensors"), m.net, m.metadata);
  const serve::Served s(load_model(dir.file("m.safetensors")), "m", std::nullopt);
  Running r(s);
  httplib::Client client("127.0.0.1", r.port);
  std::string files;
  for (const fs::path& png : digit_pngs()) files += " " + png.string();
  const test::RunResult predicted = test::run_backprop("predict --model " + dir.file("m.safetensors") + files);
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  for (const fs::path& png : digit_pngs()) {
    SCOPED_TRACE(png.string());
    const auto res = client.Post("/api/predict", slurp(png), "image/png");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json; charset=utf-8");
    const json body = json::parse(res->body);
    // predict's line: "PATH: DIGIT   outputs: a b c ..." (three decimals)
    std::smatch line;
    ASSERT_TRUE(std::regex_search(predicted.output, line, std::regex(std::regex_replace(png.string(), std::regex(R"([.\\/+*?\[^\]$(){}=!<>|:-])"), R"(\$&)") +
                                                                        ": (\\d)   outputs:([ 0-9.]+)")));
    EXPECT_EQ(body["digit"].get<int>(), std::stoi(line[1]));
    std::istringstream values(line[2].str());
    for (size_t j = 0; j < 10; ++j) {
      double v = -1;
      values >> v;
      EXPECT_NEAR(body["outputs"][j].get<double>(), v, 0.0005 + 1e-9) << "output " << j;
    }
  }
  const auto model = client.Get("/api/model");
  ASSERT_TRUE(model);
  EXPECT_EQ(json::parse(model->body)["parameters"].get<size_t>(), m.net.parameter_count());
  const auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<canvas id=\"pad\""), std::string::npos);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  // A browser's Accept-Encoding does not make the server compress (slowly) what loopback does not need.
  const auto weights = client.Get("/api/weights", {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_TRUE(weights);
  EXPECT_EQ(weights->get_header_value("Content-Encoding"), "");
  for (const char* asset : {"/app.js", "/style.css"}) {
    const auto a = client.Get(asset);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 200) << asset;
    EXPECT_FALSE(a->body.empty());
  }
}

TEST(ServeServer, MalformedRequestCorpusGetsItsStatusAndTheServerStaysUp) {
  const LabelledImages test = synthetic_images(100, 28, 28, 10, 5);
  const serve::Served s(test_model(), "m", test);
  Running r(s);
  size_t replayed = 0;
  std::vector<fs::path> corpus;
  for (const auto& e : fs::directory_iterator(kData / "serve"))
    if (e.path().extension() == ".http") corpus.push_back(e.path());
  std::sort(corpus.begin(), corpus.end());
  for (const fs::path& file : corpus) {
    const int expected = std::stoi(file.filename().string().substr(0, 3));
    EXPECT_EQ(raw_request(r.port, slurp(file)), expected) << file.filename();
    ++replayed;
    httplib::Client client("127.0.0.1", r.port);  // still answering after each one
    const auto ok = client.Get("/api/model");
    ASSERT_TRUE(ok) << "no answer after " << file.filename();
    ASSERT_EQ(ok->status, 200);
  }
  EXPECT_GE(replayed, 25u);
  // Error bodies are the API's JSON shape, whoever set the status.
  httplib::Client client("127.0.0.1", r.port);
  for (const auto& res : {client.Get("/nothing"), client.Post("/api/predict", std::string(2 << 20, 'x'), "image/png"),
                          client.Post("/api/predict", "x", "text/plain")}) {
    ASSERT_TRUE(res);
    EXPECT_GE(res->status, 400);
    EXPECT_LT(res->status, 500);
    EXPECT_TRUE(json::parse(res->body, nullptr, false).contains("error")) << res->body;
  }
}

TEST(ServeServer, EightConcurrentClientsAreAllAnswered) {
  const serve::Served s(test_model(), "m", std::nullopt);
  Running r(s, serve::Limits{.threads = 2, .queue = 2});  // fewer threads than clients: requests wait
  const std::vector<fs::path> pngs = digit_pngs();
  std::atomic<size_t> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (size_t c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", r.port);
      for (size_t i = 0; i < 25; ++i) {
        const auto res = client.Post("/api/predict", slurp(pngs[(c + i) % pngs.size()]), "image/png");
        (res && res->status == 200 ? ok : failed)++;
      }
    });
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), 200u);
  EXPECT_EQ(failed.load(), 0u);
}

// ---- the command ----

TEST(ServeCli, PrintsItsUrlServesAndStopsCleanlyOnSigintAndSigterm) {
  test::TempDir dir;
  const ModelFile m = test_model();
  save_model(dir.file("m.safetensors"), m.net, m.metadata);
  for (int sig : {SIGINT, SIGTERM}) {
    test::Child child = test::spawn_backprop("serve --model " + dir.file("m.safetensors") + " --port 0 --data " + dir.file("none"));
    // --data given but missing: a usage error, before listening.
    std::string seen;
    EXPECT_EQ(child.finish(seen), 2) << seen;
    seen.clear();
    child = test::spawn_backprop("serve --model " + dir.file("m.safetensors") + " --port 0");
    ASSERT_TRUE(child.wait_for("(Ctrl-C stops)", seen)) << seen;
    std::smatch url;
    ASSERT_TRUE(std::regex_search(seen, url, std::regex("http://127\\.0\\.0\\.1:(\\d+)/"))) << seen;
    httplib::Client client("127.0.0.1", std::stoi(url[1]));
    const auto res = client.Get("/api/model");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    kill(child.pid, sig);
    EXPECT_EQ(child.finish(seen), 0) << seen;
    EXPECT_NE(seen.find("stopped"), std::string::npos) << seen;
  }
}

// serve with arguments that should stop it at once; a server that starts anyway is ended by
// timeout (exit 124) rather than hanging the suite.
test::RunResult serve_briefly(const std::string& args) {
  return test::run_shell("timeout 20 " + test::backprop_binary() + " serve" + args);
}

TEST(ServeCli, BadFlagsAndATakenPortAreOneLineUsageErrors) {
  test::TempDir dir;
  const ModelFile m = test_model();
  save_model(dir.file("m.safetensors"), m.net, m.metadata);
  const std::string model = " --model " + dir.file("m.safetensors");
  for (const std::string& args : {model + " --port 70000", model + " --port -1",
                                  " --model " + dir.file("missing.safetensors"), model + " --threads 0",
                                  model + " --host 192.0.2.1 --port 0",  // TEST-NET-1: not this machine's
                                  model + " --host ''"}) {  // it printed http://:PORT/ (issue 25, item 16)
    const test::RunResult r = serve_briefly(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
  // All of 127.0.0.0/8 is this machine's loopback: not "reachable from other machines".
  test::Child loopback = test::spawn_backprop("serve" + model + " --host 127.0.0.2 --port 0");
  std::string seen;
  ASSERT_TRUE(loopback.wait_for("(Ctrl-C stops)", seen)) << seen;
  kill(loopback.pid, SIGTERM);
  EXPECT_EQ(loopback.finish(seen), 0) << seen;
  EXPECT_NE(seen.find("http://127.0.0.2:"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("reachable from other machines"), std::string::npos) << seen;
  // A port already taken by a running server.
  const serve::Served s(m, "m", std::nullopt);
  Running r(s);
  const test::RunResult taken = serve_briefly(model + " --port " + std::to_string(r.port));
  EXPECT_EQ(taken.exit_code, 2) << taken.output;
  EXPECT_NE(taken.output.find("cannot listen"), std::string::npos) << taken.output;
}

}  // namespace
}  // namespace bp
