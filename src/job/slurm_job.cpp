#include "job/slurm_job.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace batchwise {
namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string without_jsonl(const std::filesystem::path& output) {
  std::string s = output.string();
  if (s.ends_with(".jsonl")) s.resize(s.size() - 6);
  return s;
}

// Exit 1 from run or merge means "finished, some requests failed" (their errors are in the error
// file): for Slurm that task is done, so the merge job's afterok still starts.
constexpr const char* kExitMapping =
    "rc=$?\n"
    "# 1: finished, and some requests failed (see the error file): the task is done all the same.\n"
    "if [ \"$rc\" -eq 1 ]; then exit 0; fi\n"
    "exit \"$rc\"\n";

// Runs a command line, returns what it printed on stdout and stderr together.
Expected<std::string> run_command(const std::string& command_line) {
  std::FILE* pipe = ::popen((command_line + " 2>&1").c_str(), "r");
  if (!pipe) return make_error(ErrorCode::kUnavailable, "cannot run " + command_line);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const bool missing = WIFEXITED(status) && WEXITSTATUS(status) == 127;
    return make_error(ErrorCode::kUnavailable,
                      "`" + command_line + "` failed" + (missing ? " (is Slurm's sbatch on PATH?)" : "") + ": " + out);
  }
  return out;
}

// `sbatch --parsable` prints "jobid" or "jobid;cluster".
Expected<std::string> sbatch(const std::string& args) {
  BW_ASSIGN_OR_RETURN(std::string out, run_command("sbatch --parsable " + args));
  const std::string last = out.substr(out.find_last_of('\n') == std::string::npos ? 0 : out.find_last_of('\n') + 1);
  const std::string id = last.substr(0, last.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    return make_error(ErrorCode::kUnavailable, "sbatch printed no job id: " + out);
  }
  return id;
}

}  // namespace

std::vector<std::string> sbatch_lines(const std::vector<std::string>& args) {
  std::vector<std::string> lines;
  for (const auto& a : args) {
    if (lines.empty() || a.starts_with("-")) {
      lines.push_back("#SBATCH " + a);
    } else {
      lines.back() += " " + a;
    }
  }
  return lines;
}

SlurmScripts slurm_scripts(const SlurmJobOptions& o) {
  const std::string base = without_jsonl(o.output);
  const std::string n = std::to_string(o.shards);
  const std::string name = std::filesystem::path(base).filename().string();
  SlurmScripts s;
  s.array_path = base + ".array.sbatch";
  s.merge_path = base + ".merge.sbatch";

  s.array = "#!/bin/bash\n"
            "# Written by `batchwise slurm`: shard $SLURM_ARRAY_TASK_ID of " + n + " of " + o.input.string() + ".\n"
            "# Each task keeps its own state (" + base + ".shard-I-of-" + n + ".state.db): a requeued or\n"
            "# preempted task runs this again and resumes where it stopped.\n"
            "#SBATCH --job-name=batchwise-" + name + "\n"
            "#SBATCH --array=0-" + std::to_string(o.shards - 1) + "\n"
            "#SBATCH --requeue\n"
            "#SBATCH --open-mode=append\n"
            "#SBATCH --output=" + base + ".shard-%a-of-" + n + ".slurm.log\n";
  for (const auto& line : sbatch_lines(o.sbatch_args)) s.array += line + "\n";
  s.array += quote(o.batchwise.string()) + " run " + quote(o.input.string()) + " -o " + quote(o.output.string()) +
             " --shard \"${SLURM_ARRAY_TASK_ID}/" + n + "\"" + (o.run_args.empty() ? "" : " " + o.run_args) + "\n" +
             kExitMapping;

  s.merge = "#!/bin/bash\n"
            "# Written by `batchwise slurm`: merges the " + n + " shards of " + o.input.string() + " once all\n"
            "# have finished (submitted with --dependency=afterok on the array job).\n"
            "#SBATCH --job-name=batchwise-merge-" + name + "\n"
            "#SBATCH --output=" + base + ".merge.slurm.log\n";
  for (const auto& line : sbatch_lines(o.merge_sbatch_args)) s.merge += line + "\n";
  s.merge += "# Slurm may start this job while a requeued task of the array runs again (afterok took that task's first\n"
             "# end): wait until none of the array's tasks is queued or running.\n"
             "if [ -n \"${" + std::string(kArrayJobIdVariable) + ":-}\" ]; then\n"
             "  while [ -n \"$(squeue -h -o %i -j \"$" + std::string(kArrayJobIdVariable) + "\" 2>/dev/null)\" ]; do sleep 5; done\n"
             "fi\n";
  s.merge += quote(o.batchwise.string()) + " merge -o " + quote(o.output.string()) + " --shards " + n + "\n" +
             kExitMapping;
  return s;
}

Expected<SubmittedJob> submit_slurm_job(const SlurmScripts& scripts) {
  SubmittedJob job;
  BW_ASSIGN_OR_RETURN(job.array_job_id, sbatch(quote(scripts.array_path.string())));
  BW_ASSIGN_OR_RETURN(job.merge_job_id, sbatch("--dependency=afterok:" + job.array_job_id + " --export=ALL," +
                                                std::string(kArrayJobIdVariable) + "=" + job.array_job_id + " " +
                                                quote(scripts.merge_path.string())));
  return job;
}

}  // namespace batchwise
