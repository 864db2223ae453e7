#include "worker/metric_parser.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "core/error.h"

namespace hpt {
namespace {

MetricPoint Point(std::string name, int64_t step, double value, double time = 5.0) {
  return MetricPoint{std::move(name), step, value, time};
}

RefusedMetric Refused(std::string name, std::string text, std::string why) {
  return RefusedMetric{std::move(name), std::move(text), std::move(why)};
}

// One epoch as tf.keras's Progbar prints it on a terminal: every redraw of the progress bar
// erases the previous one with backspaces and a carriage return (`joiner`), and only the last
// one, ended by '\n', carries the validation metrics.
std::string KerasEpochLine(std::string_view joiner, int batches = 290) {
  std::string line;
  size_t previous = 0;
  for (int batch = 1; batch <= batches; ++batch) {
    const int done = batch * 30 / batches;
    std::string bar = std::string(done, '=') + (done < 30 ? ">" : "") + std::string(std::max(0, 29 - done), '.');
    char text[160];
    std::snprintf(text, sizeof text, "%4d/%d [%s] - ETA: %ds - loss: %.4f - accuracy: %.4f", batch, batches,
                  bar.c_str(), (batches - batch) / 50, 2.3 - batch * 0.006, 0.1 + batch * 0.0025);
    if (batch > 1) {
      for (char c : joiner) line += c == '\b' ? std::string(previous, '\b') : std::string(1, c);
    }
    line += text;
    previous = std::string_view(text).size();
  }
  return line + " - 5s 17ms/step - val_loss: 0.5311 - val_accuracy: 0.8123";
}

TEST_CASE("metric parser: a native line with a step yields each metric at that step") {
  MetricParser parser({});
  auto points = parser.Parse("hpt: step=3 val_loss=0.21 val_accuracy=0.93", 5.0).points;
  REQUIRE(points.size() == 2);
  CHECK(points[0] == Point("val_loss", 3, 0.21));
  CHECK(points[1] == Point("val_accuracy", 3, 0.93));
  CHECK(parser.LastStep("val_loss") == 3);
  CHECK(parser.LastStep("val_accuracy") == 3);
}

TEST_CASE("metric parser: the step token may come after the metrics") {
  MetricParser parser({});
  auto points = parser.Parse("hpt: loss=1.5 step=7", 5.0).points;
  REQUIRE(points.size() == 1);
  CHECK(points[0] == Point("loss", 7, 1.5));
}

TEST_CASE("metric parser: without a step each metric counts its own steps from 1") {
  MetricParser parser({});
  CHECK(parser.Parse("hpt: loss=1", 1.0).points == std::vector{Point("loss", 1, 1, 1.0)});
  CHECK(parser.Parse("hpt: loss=2 acc=0.5", 2.0).points ==
        std::vector{Point("loss", 2, 2, 2.0), Point("acc", 1, 0.5, 2.0)});
  CHECK(parser.Parse("hpt: step=10 acc=0.6", 3.0).points == std::vector{Point("acc", 10, 0.6, 3.0)});
  CHECK(parser.Parse("hpt: acc=0.7 loss=3", 4.0).points ==
        std::vector{Point("acc", 11, 0.7, 4.0), Point("loss", 3, 3, 4.0)});
  CHECK(parser.LastStep("loss") == 3);
  CHECK(parser.LastStep("acc") == 11);
  CHECK(parser.LastStep("never_seen") == 0);
}

TEST_CASE("metric parser: leading whitespace, tabs and a trailing carriage return are accepted") {
  MetricParser parser({});
  auto points = parser.Parse("  \thpt:\tstep=2\t loss=1e-3  acc=+0.5\r", 5.0).points;
  REQUIRE(points.size() == 2);
  CHECK(points[0] == Point("loss", 2, 1e-3));
  CHECK(points[1] == Point("acc", 2, 0.5));
}

TEST_CASE("metric parser: bad names and values are refused, tokens without '=' skipped, the rest kept") {
  MetricParser parser({});
  auto parsed = parser.Parse(
      "hpt: step=4 noequals =1 9lives=1 na?me=2 empty= loss=abc loss2=1.5x acc=0.75 "
      "lr/group-0:x.y=0.01",
      5.0);
  CHECK(parsed.points == std::vector{Point("acc", 4, 0.75), Point("lr/group-0:x.y", 4, 0.01)});
  const std::string bad_name = "not a metric name ([A-Za-z_][A-Za-z0-9_.:/-]*, at most 128 characters)";
  CHECK(parsed.refused == std::vector{Refused("", "1", bad_name), Refused("9lives", "1", bad_name),
                                      Refused("na?me", "2", bad_name), Refused("empty", "", "not a number"),
                                      Refused("loss", "abc", "not a number"),
                                      Refused("loss2", "1.5x", "not a number")});
}

TEST_CASE("metric parser: nan, infinities and out-of-range values are refused with the text as printed") {
  MetricParser parser({});
  auto parsed = parser.Parse("hpt: a=nan b=inf c=-inf d=1e999 e=-2.5 f=-1e999 g=NaN h=1e-400", 5.0);
  CHECK(parsed.points == std::vector{Point("e", 1, -2.5)});
  const std::string out_of_range = "not a finite number (out of the range of a double)";
  CHECK(parsed.refused == std::vector{Refused("a", "nan", "not a finite number"),
                                      Refused("b", "inf", "not a finite number"),
                                      Refused("c", "-inf", "not a finite number"), Refused("d", "1e999", out_of_range),
                                      Refused("f", "-1e999", out_of_range), Refused("g", "NaN", "not a finite number"),
                                      Refused("h", "1e-400", out_of_range)});
  // A refused value is not a step: the metric's next value still gets step 1.
  CHECK(parser.LastStep("a") == 0);
  CHECK(parser.Parse("hpt: a=0.5", 6.0).points == std::vector{Point("a", 1, 0.5, 6.0)});
}

TEST_CASE("metric parser: a line whose step is negative, non-integral or beyond 2^53 has every value refused") {
  MetricParser parser({});
  CHECK(parser.Parse("hpt: step=1 acc=0.5", 1.0).points == std::vector{Point("acc", 1, 0.5, 1.0)});
  struct Case {
    std::string step, why;
  };
  for (const Case& c : {Case{"-1", "is negative"}, Case{"2.5", "is not an integer"}, Case{"1.5", "is not an integer"},
                        Case{"1e3", "is not an integer"}, Case{"abc", "is not an integer"},
                        Case{"", "is not an integer"}, Case{"9007199254740993", "is beyond 2^53"},
                        Case{"99999999999999999999", "is beyond 2^53"},
                        Case{"-99999999999999999999", "is negative"}}) {
    CAPTURE(c.step);
    auto parsed = parser.Parse("hpt: step=" + c.step + " acc=0.9 loss=0.1", 2.0);
    CHECK(parsed.points.empty());
    const std::string why = "its line's step '" + c.step + "' " + c.why;
    CHECK(parsed.refused == std::vector{Refused("acc", "0.9", why), Refused("loss", "0.1", why)});
  }
  // Nothing of those lines was recorded, not even as an automatic step.
  CHECK(parser.LastStep("acc") == 1);
  CHECK(parser.LastStep("loss") == 0);
  // A value that is bad in itself says so, whatever the step.
  CHECK(parser.Parse("hpt: step=-1 acc=nan", 3.0).refused == std::vector{Refused("acc", "nan", "not a finite number")});
}

TEST_CASE("metric parser: a step of 2^53 is recorded, an automatic step after it is refused") {
  MetricParser parser({MetricDef{"acc", "acc=([0-9.]+)"}});
  CHECK(parser.Parse("hpt: step=9007199254740992 acc=0.5", 1.0).points ==
        std::vector{Point("acc", 9007199254740992, 0.5, 1.0)});
  CHECK(parser.Parse("hpt: step=0 loss=1", 1.0).points == std::vector{Point("loss", 0, 1, 1.0)});
  auto parsed = parser.Parse("acc=0.6", 2.0);
  CHECK(parsed.points.empty());
  CHECK(parsed.refused == std::vector{Refused("acc", "0.6", "its automatic step would be beyond 2^53")});
  MetricParser resumed({});
  resumed.SetStepOffset(int64_t{1} << 53);
  CHECK(resumed.Parse("hpt: loss=1", 1.0).refused ==
        std::vector{Refused("loss", "1", "its automatic step would be beyond 2^53")});
}

TEST_CASE("metric parser: a metric name of 128 characters is recorded, a longer one refused and shown cut") {
  MetricParser parser({});
  const std::string longest = "m" + std::string(127, 'x');
  CHECK(parser.Parse("hpt: " + longest + "=1", 1.0).points == std::vector{Point(longest, 1, 1, 1.0)});
  auto parsed = parser.Parse("hpt: " + longest + "y=2", 1.0);
  CHECK(parsed.points.empty());
  CHECK(parsed.refused == std::vector{Refused(longest + "...", "2",
                                              "not a metric name ([A-Za-z_][A-Za-z0-9_.:/-]*, at most 128 characters)")});
}

TEST_CASE("metric parser: refused names and values are shown printable and cut at 64 bytes") {
  MetricParser parser({});
  auto parsed = parser.Parse("hpt: a\x1b[2J=1 b=\x01\\\xc3\xa9 c=" + std::string(70, '9') + "x", 1.0);
  REQUIRE(parsed.refused.size() == 3);
  CHECK(parsed.refused[0].name == "a\\x1b[2J");
  CHECK(parsed.refused[1].text == "\\x01\\\\\\xc3\\xa9");
  CHECK(parsed.refused[2].text == std::string(64, '9') + "...");
}

TEST_CASE("metric parser: lines that are not metric lines yield nothing") {
  MetricParser parser({});
  CHECK(parser.Parse("", 1.0).points.empty());
  CHECK(parser.Parse("epoch 3 loss=0.2", 1.0).points.empty());
  CHECK(parser.Parse("xhpt: loss=1", 1.0).points.empty());
  CHECK(parser.Parse("HPT: loss=1", 1.0).points.empty());
  CHECK(parser.Parse("hpt:", 1.0).points.empty());
  CHECK(parser.LastStep("loss") == 0);
}

TEST_CASE("metric parser: a regex definition takes its value from group 1") {
  MetricParser parser({MetricDef{"val_accuracy", "val_acc=([0-9.eE+-]+)"}});
  CHECK(parser.Parse("epoch 1: loss=0.5 val_acc=0.81 lr=0.1", 1.0).points ==
        std::vector{Point("val_accuracy", 1, 0.81, 1.0)});
  CHECK(parser.Parse("epoch 2: val_acc=0.85", 2.0).points ==
        std::vector{Point("val_accuracy", 2, 0.85, 2.0)});
  CHECK(parser.Parse("epoch 3: nothing here", 3.0).points.empty());
  CHECK(parser.Parse("val_acc=oops", 3.0).points.empty());
  CHECK(parser.LastStep("val_accuracy") == 2);
}

TEST_CASE("metric parser: a regex value that is not a finite number is refused like a native one") {
  MetricParser parser({MetricDef{"val_accuracy", "val_acc=(\\S+)"}});
  for (const auto& [text, why] : {std::pair{"nan", "not a finite number"}, std::pair{"-inf", "not a finite number"},
                                  std::pair{"1e999", "not a finite number (out of the range of a double)"},
                                  std::pair{"oops", "not a number"}}) {
    CAPTURE(text);
    auto parsed = parser.Parse(std::string("epoch 1: val_acc=") + text + " lr=0.1", 1.0);
    CHECK(parsed.points.empty());
    CHECK(parsed.refused == std::vector{Refused("val_accuracy", text, why)});
  }
  CHECK(parser.LastStep("val_accuracy") == 0);
  CHECK(parser.Parse("val_acc=0.5", 2.0).points == std::vector{Point("val_accuracy", 1, 0.5, 2.0)});
}

TEST_CASE("metric parser: a regex without a group takes the whole match") {
  MetricParser parser({MetricDef{"score", "[0-9]+\\.[0-9]+"}});
  CHECK(parser.Parse("final score is 12.5 points", 1.0).points == std::vector{Point("score", 1, 12.5, 1.0)});
}

TEST_CASE("metric parser: one line can yield native and regex points") {
  MetricParser parser({MetricDef{"loss", "loss=([0-9.]+)"}, MetricDef{"acc", "acc: ([0-9.]+)"}});
  auto points = parser.Parse("hpt: step=5 loss=0.25", 1.0).points;
  REQUIRE(points.size() == 2);
  CHECK(points[0] == Point("loss", 5, 0.25, 1.0));
  CHECK(points[1] == Point("loss", 6, 0.25, 1.0));
  CHECK(parser.Parse("acc: 0.5", 2.0).points == std::vector{Point("acc", 1, 0.5, 2.0)});
}

TEST_CASE("metric parser: a 49 KB Keras epoch line, its redraws joined by \\b and \\r, yields val_accuracy") {
  MetricParser parser({MetricDef{"val_accuracy", "val_accuracy: ([0-9.]+)"}});
  int64_t step = 0;
  for (std::string_view joiner : {std::string_view("\b\r"), std::string_view("\b")}) {
    const std::string line = KerasEpochLine(joiner);
    CAPTURE(line.size());
    REQUIRE(line.size() > 48 * 1024);
    REQUIRE(line.size() < 64 * 1024);  // one line as TrialProcess hands it out
    CHECK(parser.Parse(line, 1.0).points == std::vector{Point("val_accuracy", ++step, 0.8123, 1.0)});
  }
  CHECK(parser.LastStep("val_accuracy") == 2);
}

TEST_CASE("metric parser: on a line over 4 KiB a regex finds the first value wherever it is, never a cut one") {
  MetricParser parser({MetricDef{"loss", "loss=([0-9.]+)"}, MetricDef{"num", "([0-9]+\\.[0-9]+)"}});
  // At the start, across every window boundary (2 KiB apart), and at the end.
  for (size_t at : {size_t{0}, size_t{2040}, size_t{2044}, size_t{2048}, size_t{4085}, size_t{4090}, size_t{4096},
                    size_t{6135}, size_t{6143},
                    size_t{9000}}) {
    CAPTURE(at);
    std::string line(10000, 'x');
    line.replace(at, 14, " loss=0.123456");
    auto points = parser.Parse(line, 1.0).points;
    REQUIRE(points.size() == 2);
    CHECK(points[0].value == 0.123456);
    CHECK(points[1].value == 0.123456);  // the unanchored number is not read from a window's cut
  }
  std::string tail = std::string(20000, 'x') + " loss=0.25";
  CHECK(parser.Parse(tail, 1.0).points.front().value == 0.25);
  std::string two = std::string(3000, 'x') + " loss=0.5 " + std::string(5000, 'x') + " loss=0.75";
  CHECK(parser.Parse(two, 1.0).points.front().value == 0.5);
  CHECK(parser.Parse(std::string(20000, 'x'), 1.0).points.empty());
  // A match over 2 KiB long that no window holds whole is missed, rather than read cut short.
  std::string huge = std::string(1000, 'x') + std::string(5000, '0') + "7.5" + std::string(4000, 'x');
  CHECK(parser.Parse(huge, 1.0).points.empty());
  std::string native = "hpt: loss=0.5" + std::string(5000, ' ') + "acc=1";
  // loss and acc natively, then loss and num by the regexes.
  CHECK(parser.Parse(native, 1.0).points.size() == 4);
}

TEST_CASE("metric parser: on a long line the window edges do not make ^ and $ match inside the line") {
  MetricParser parser({MetricDef{"first", "^v=([0-9.]+)"}, MetricDef{"last", "v=([0-9.]+)$"}});
  // "v=1.5" starts the second window, "v=2.5" ends it.
  std::string line = std::string(2048, 'x') + "v=1.5" + std::string(6144 - 5 - 2053, 'y') + "v=2.5" +
                     std::string(3000, 'z');
  REQUIRE(line.substr(6139, 5) == "v=2.5");
  CHECK(parser.Parse(line, 1.0).points.empty());
  CHECK(parser.Parse("v=3.5" + std::string(9000, 'z') + "v=4.5", 1.0).points ==
        std::vector{Point("first", 1, 3.5, 1.0), Point("last", 1, 4.5, 1.0)});
}

TEST_CASE("metric parser: a step offset starts automatic steps after it for every metric") {
  MetricParser parser({MetricDef{"acc", "acc=([0-9.]+)"}});
  parser.SetStepOffset(10);
  CHECK(parser.Parse("hpt: loss=1", 1.0).points == std::vector{Point("loss", 11, 1, 1.0)});
  CHECK(parser.Parse("acc=0.5", 1.0).points == std::vector{Point("acc", 11, 0.5, 1.0)});
  CHECK(parser.Parse("hpt: loss=2", 1.0).points == std::vector{Point("loss", 12, 2, 1.0)});
  CHECK(parser.Parse("hpt: step=20 loss=3", 1.0).points == std::vector{Point("loss", 20, 3, 1.0)});
  CHECK(parser.Parse("hpt: loss=4", 1.0).points == std::vector{Point("loss", 21, 4, 1.0)});
  CHECK(parser.LastStep("loss") == 21);
}

TEST_CASE("metric parser: param and artifact lines report about the run, never metrics") {
  MetricParser parser({});
  MetricParser::ParsedLine line = parser.Parse("  hpt: param optimizer = adam w  ", 1.0);
  CHECK(line.points.empty());
  CHECK(line.problems.empty());
  CHECK(line.params == std::vector<ReportedParam>{{"optimizer", "adam w"}});
  line = parser.Parse("hpt:\tparam seed=7", 1.0);
  CHECK(line.params == std::vector<ReportedParam>{{"seed", "7"}});
  line = parser.Parse("hpt: artifact output model=ckpt/model final.pt", 1.0);
  CHECK(line.points.empty());
  REQUIRE(line.artifacts.size() == 1);
  CHECK(line.artifacts[0].name == "model");
  CHECK(line.artifacts[0].direction == ArtifactDirection::kOutput);
  CHECK(line.artifacts[0].location == "ckpt/model final.pt");
  line = parser.Parse("hpt: artifact input data=s3://bucket/train/", 1.0);
  REQUIRE(line.artifacts.size() == 1);
  CHECK(line.artifacts[0].direction == ArtifactDirection::kInput);
  CHECK(line.artifacts[0].location == "s3://bucket/train/");
  // A metric line is still one, whatever its first metric is called.
  CHECK(parser.Parse("hpt: params=3", 1.0).points.size() == 1);
  CHECK(parser.Parse("hpt: param=3", 1.0).points.size() == 1);
}

TEST_CASE("metric parser: a param or artifact line that breaks a rule is refused whole, saying why") {
  MetricParser parser({});
  const auto problem = [&](const std::string& text) {
    MetricParser::ParsedLine line = parser.Parse(text, 1.0);
    CHECK(line.points.empty());
    CHECK(line.params.empty());
    CHECK(line.artifacts.empty());
    REQUIRE(line.problems.size() == 1);
    return line.problems[0];
  };
  CHECK(problem("hpt: param seed") == "param 'seed': expected NAME=VALUE");
  CHECK(problem("hpt: param 1x=2") ==
        "param '1x': not a name ([A-Za-z_][A-Za-z0-9_.:/-]*, at most 128 characters)");
  CHECK(problem("hpt: param x=") == "param 'x': the value is empty");
  CHECK(problem("hpt: param x=" + std::string(1025, 'v')) == "param 'x': the value is longer than 1024 bytes");
  CHECK(problem("hpt: param x=a\x01") == "param 'x': the value holds a control character");
  CHECK(problem("hpt: param x=\xff") == "param 'x': the value is not valid UTF-8");
  CHECK(problem("hpt: artifact model=x.pt") ==
        "artifact: expected 'input' or 'output' before NAME=LOCATION, got 'model=x.pt'");
  CHECK(problem("hpt: artifact output model") == "artifact 'model': expected NAME=LOCATION");
  CHECK(problem("hpt: artifact output model=") == "artifact 'model': the location is empty");
  CHECK(problem("hpt: artifact output model=ftp://host/x") ==
        "artifact 'model': 'ftp://host/x' is not a file path or an s3://, gs://, http:// or https:// URI");
  CHECK(problem("hpt: artifact output m=" + std::string(4097, 'p')) ==
        "artifact 'm': the location is longer than 4096 bytes");
}

TEST_CASE("metric parser: an invalid regex is rejected naming the metric") {
  try {
    MetricParser parser({MetricDef{"ok", "a([0-9]+)"}, MetricDef{"val_loss", "loss=([0-9"}});
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    CHECK(std::string(e.what()).find("metric 'val_loss': invalid regex") != std::string::npos);
  }
}

}  // namespace
}  // namespace hpt
