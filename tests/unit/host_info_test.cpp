// /proc/cpuinfo and /proc/meminfo parsing on text from real machines, and on this one.
#include "hardware/host_info.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

constexpr const char* kTwoCoresFourThreads =
    "processor\t: 0\nmodel name\t: AMD EPYC 7R13 Processor\nphysical id\t: 0\ncore id\t\t: 0\n"
    "flags\t\t: fpu sse4_2 avx avx2 fma f16c\n\n"
    "processor\t: 1\nmodel name\t: AMD EPYC 7R13 Processor\nphysical id\t: 0\ncore id\t\t: 1\n"
    "flags\t\t: fpu sse4_2 avx avx2 fma f16c\n\n"
    "processor\t: 2\nmodel name\t: AMD EPYC 7R13 Processor\nphysical id\t: 0\ncore id\t\t: 0\n"
    "flags\t\t: fpu sse4_2 avx avx2 fma f16c\n\n"
    "processor\t: 3\nmodel name\t: AMD EPYC 7R13 Processor\nphysical id\t: 0\ncore id\t\t: 1\n"
    "flags\t\t: fpu sse4_2 avx avx2 fma f16c\n";

TEST(HostInfo, CountsCoresThreadsAndSimdFlags) {
  HostInfo h;
  parse_cpuinfo(kTwoCoresFourThreads, h);
  EXPECT_EQ(h.cpu_model, "AMD EPYC 7R13 Processor");
  EXPECT_EQ(h.logical_cpus, 4);
  EXPECT_EQ(h.physical_cores, 2);
  EXPECT_TRUE(h.has_flag("avx2"));
  EXPECT_FALSE(h.has_flag("avx512f"));
  EXPECT_EQ(h.flops_per_cycle_per_core(), 32);
}

TEST(HostInfo, ReadsMemTotalAndAvailable) {
  HostInfo h;
  parse_meminfo("MemTotal:       24564728 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\n", h);
  EXPECT_EQ(h.ram_total_bytes, int64_t{24564728} * 1024);
  EXPECT_EQ(h.ram_available_bytes, int64_t{20000000} * 1024);
}

TEST(HostInfo, GarbageGivesEmptyFieldsNotACrash) {
  HostInfo h;
  parse_cpuinfo("::::\n\n\x01\x02 : \n", h);
  parse_meminfo("MemTotal: lots\n", h);
  EXPECT_EQ(h.ram_total_bytes, 0);
  EXPECT_EQ(h.flops_per_cycle_per_core(), 8);
}

TEST(HostInfo, ThisMachineHasCpusAndRam) {
  const HostInfo h = probe_host();
  EXPECT_GE(h.logical_cpus, 1);
  EXPECT_GT(h.ram_total_bytes, 0);
  EXPECT_LE(h.ram_available_bytes, h.ram_total_bytes);
}

}  // namespace
}  // namespace batchwise
