// Plan's speed calibration is merged from tunes, never replaced by one: the busy-machine tune
// (a contended trial, a "125x speedup", the factor going 0.53 -> 0.0756 so that plan predicted 67 tok/s
// where 469 was right) must leave the stored factor where it was, named as an outlier.
#include "plan/measured_calibration.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

CalibrationSample sample(double f) { return CalibrationSample{f, 6, "tiny.gguf, workload p2048-s2048-o32"}; }

TEST(MeasuredCalibration, OneNoisyTuneDoesNotRewriteTheFactor) {
  auto c = merge_calibration(std::nullopt, "cpu X", sample(0.53)).merged;
  c = merge_calibration(c, "cpu X", sample(0.55)).merged;
  const CalibrationMerge noisy = merge_calibration(c, "cpu X", sample(0.0756));
  EXPECT_TRUE(noisy.outlier);
  EXPECT_NEAR(noisy.merged.speed_factor, 0.54, 1e-9) << "the median of the two tunes before";
  ASSERT_EQ(noisy.merged.outliers.size(), 1u);
  EXPECT_NE(noisy.note.find("outlier"), std::string::npos) << noisy.note;
}

TEST(MeasuredCalibration, AgreeingTunesAreMergedWithTheirSpread) {
  auto m = merge_calibration(std::nullopt, "cpu X", sample(0.53));
  m = merge_calibration(m.merged, "cpu X", sample(0.72));
  EXPECT_FALSE(m.outlier);
  EXPECT_NEAR(m.merged.speed_factor, 0.625, 1e-9);
  EXPECT_NEAR(m.merged.spread, (0.72 - 0.53) / 0.625, 1e-9);
  EXPECT_EQ(m.merged.trials, 12);
  EXPECT_NE(m.note.find("merged with 1 earlier"), std::string::npos) << m.note;
}

TEST(MeasuredCalibration, TwoAgreeingOutliersMeanTheMachineChanged) {
  auto c = merge_calibration(std::nullopt, "cpu X", sample(0.5)).merged;
  c = merge_calibration(c, "cpu X", sample(1.6)).merged;
  const CalibrationMerge again = merge_calibration(c, "cpu X", sample(1.7));
  EXPECT_FALSE(again.outlier);
  EXPECT_NEAR(again.merged.speed_factor, 1.65, 1e-9);
  EXPECT_TRUE(again.merged.outliers.empty());
}

}  // namespace
}  // namespace batchwise
