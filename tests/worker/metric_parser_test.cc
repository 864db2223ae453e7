#include "worker/metric_parser.h"

#include <doctest/doctest.h>

#include <string>

#include "core/error.h"

namespace hpt {
namespace {

MetricPoint Point(std::string name, int64_t step, double value, double time = 5.0) {
  return MetricPoint{std::move(name), step, value, time};
}

TEST_CASE("metric parser: a native line with a step yields each metric at that step") {
  MetricParser parser({});
  auto points = parser.Parse("hpt: step=3 val_loss=0.21 val_accuracy=0.93", 5.0);
  REQUIRE(points.size() == 2);
  CHECK(points[0] == Point("val_loss", 3, 0.21));
  CHECK(points[1] == Point("val_accuracy", 3, 0.93));
  CHECK(parser.LastStep("val_loss") == 3);
  CHECK(parser.LastStep("val_accuracy") == 3);
}

TEST_CASE("metric parser: the step token may come after the metrics") {
  MetricParser parser({});
  auto points = parser.Parse("hpt: loss=1.5 step=7", 5.0);
  REQUIRE(points.size() == 1);
  CHECK(points[0] == Point("loss", 7, 1.5));
}

TEST_CASE("metric parser: without a step each metric counts its own steps from 1") {
  MetricParser parser({});
  CHECK(parser.Parse("hpt: loss=1", 1.0) == std::vector{Point("loss", 1, 1, 1.0)});
  CHECK(parser.Parse("hpt: loss=2 acc=0.5", 2.0) ==
        std::vector{Point("loss", 2, 2, 2.0), Point("acc", 1, 0.5, 2.0)});
  CHECK(parser.Parse("hpt: step=10 acc=0.6", 3.0) == std::vector{Point("acc", 10, 0.6, 3.0)});
  CHECK(parser.Parse("hpt: acc=0.7 loss=3", 4.0) ==
        std::vector{Point("acc", 11, 0.7, 4.0), Point("loss", 3, 3, 4.0)});
  CHECK(parser.LastStep("loss") == 3);
  CHECK(parser.LastStep("acc") == 11);
  CHECK(parser.LastStep("never_seen") == 0);
}

TEST_CASE("metric parser: leading whitespace, tabs and a trailing carriage return are accepted") {
  MetricParser parser({});
  auto points = parser.Parse("  \thpt:\tstep=2\t loss=1e-3  acc=+0.5\r", 5.0);
  REQUIRE(points.size() == 2);
  CHECK(points[0] == Point("loss", 2, 1e-3));
  CHECK(points[1] == Point("acc", 2, 0.5));
}

TEST_CASE("metric parser: malformed tokens are skipped and the rest of the line is kept") {
  MetricParser parser({});
  auto points = parser.Parse(
      "hpt: step=4 noequals =1 9lives=1 na?me=2 empty= loss=abc loss2=1.5x acc=0.75 "
      "lr/group-0:x.y=0.01",
      5.0);
  REQUIRE(points.size() == 2);
  CHECK(points[0] == Point("acc", 4, 0.75));
  CHECK(points[1] == Point("lr/group-0:x.y", 4, 0.01));
}

TEST_CASE("metric parser: a step that is not an integer is ignored and steps are numbered") {
  MetricParser parser({});
  auto points = parser.Parse("hpt: step=1.5 loss=2", 5.0);
  REQUIRE(points.size() == 1);
  CHECK(points[0] == Point("loss", 1, 2));
}

TEST_CASE("metric parser: non-finite values are skipped") {
  MetricParser parser({});
  auto points = parser.Parse("hpt: a=nan b=inf c=-inf d=1e999 e=-2.5", 5.0);
  REQUIRE(points.size() == 1);
  CHECK(points[0] == Point("e", 1, -2.5));
  CHECK(parser.LastStep("a") == 0);
}

TEST_CASE("metric parser: lines that are not metric lines yield nothing") {
  MetricParser parser({});
  CHECK(parser.Parse("", 1.0).empty());
  CHECK(parser.Parse("epoch 3 loss=0.2", 1.0).empty());
  CHECK(parser.Parse("xhpt: loss=1", 1.0).empty());
  CHECK(parser.Parse("HPT: loss=1", 1.0).empty());
  CHECK(parser.Parse("hpt:", 1.0).empty());
  CHECK(parser.LastStep("loss") == 0);
}

TEST_CASE("metric parser: a regex definition takes its value from group 1") {
  MetricParser parser({MetricDef{"val_accuracy", "val_acc=([0-9.eE+-]+)"}});
  CHECK(parser.Parse("epoch 1: loss=0.5 val_acc=0.81 lr=0.1", 1.0) ==
        std::vector{Point("val_accuracy", 1, 0.81, 1.0)});
  CHECK(parser.Parse("epoch 2: val_acc=0.85", 2.0) ==
        std::vector{Point("val_accuracy", 2, 0.85, 2.0)});
  CHECK(parser.Parse("epoch 3: nothing here", 3.0).empty());
  CHECK(parser.Parse("val_acc=oops", 3.0).empty());
  CHECK(parser.LastStep("val_accuracy") == 2);
}

TEST_CASE("metric parser: a regex without a group takes the whole match") {
  MetricParser parser({MetricDef{"score", "[0-9]+\\.[0-9]+"}});
  CHECK(parser.Parse("final score is 12.5 points", 1.0) == std::vector{Point("score", 1, 12.5, 1.0)});
}

TEST_CASE("metric parser: one line can yield native and regex points") {
  MetricParser parser({MetricDef{"loss", "loss=([0-9.]+)"}, MetricDef{"acc", "acc: ([0-9.]+)"}});
  auto points = parser.Parse("hpt: step=5 loss=0.25", 1.0);
  REQUIRE(points.size() == 2);
  CHECK(points[0] == Point("loss", 5, 0.25, 1.0));
  CHECK(points[1] == Point("loss", 6, 0.25, 1.0));
  CHECK(parser.Parse("acc: 0.5", 2.0) == std::vector{Point("acc", 1, 0.5, 2.0)});
}

TEST_CASE("metric parser: a regex is not applied to lines longer than 4 KiB") {
  MetricParser parser({MetricDef{"loss", "loss=([0-9.]+)"}});
  std::string line = "loss=0.5 " + std::string(5000, 'x');
  CHECK(parser.Parse(line, 1.0).empty());
  std::string native = "hpt: loss=0.5" + std::string(5000, ' ') + "acc=1";
  auto points = parser.Parse(native, 1.0);
  REQUIRE(points.size() == 2);
  CHECK(points[0] == Point("loss", 1, 0.5, 1.0));
  CHECK(points[1] == Point("acc", 1, 1, 1.0));
}

TEST_CASE("metric parser: a step offset starts automatic steps after it for every metric") {
  MetricParser parser({MetricDef{"acc", "acc=([0-9.]+)"}});
  parser.SetStepOffset(10);
  CHECK(parser.Parse("hpt: loss=1", 1.0) == std::vector{Point("loss", 11, 1, 1.0)});
  CHECK(parser.Parse("acc=0.5", 1.0) == std::vector{Point("acc", 11, 0.5, 1.0)});
  CHECK(parser.Parse("hpt: loss=2", 1.0) == std::vector{Point("loss", 12, 2, 1.0)});
  CHECK(parser.Parse("hpt: step=20 loss=3", 1.0) == std::vector{Point("loss", 20, 3, 1.0)});
  CHECK(parser.Parse("hpt: loss=4", 1.0) == std::vector{Point("loss", 21, 4, 1.0)});
  CHECK(parser.LastStep("loss") == 21);
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
