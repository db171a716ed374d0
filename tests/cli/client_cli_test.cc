// The client commands against a real `straits serve`: a child process on a
// free loopback port over a temporary SQLite store, the shipped catalog and
// default rules, no scheduling loop. Every command runs the real binary.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/shell.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/time.h"
#include "policy/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// An org and a leasable pool the default rules let it lease and run on now
// (checked by LeasablePoolIsAllowedToday, so that a rule change shows here).
constexpr const char* kOrg = "halcyon-reach";
constexpr const char* kPool = "sg-tuas-1-h100";

using Outcome = straits::testing::CommandResult;
using straits::shell_quote;

// `straits ARGS` with `env` ("NAME=value ..." for the shell) before it.
Outcome straits(const std::string& env, const std::string& args) {
  return straits::testing::run_command_capturing_stderr(env + " " + STRAITS_BINARY + " " + args);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The secret a `token create` printed ("export STRAITS_TOKEN=..."), "" if none.
std::string secret_of(const std::string& out) {
  const auto at = out.find("export STRAITS_TOKEN=");
  if (at == std::string::npos) return "";
  const std::string rest = out.substr(at + std::string("export STRAITS_TOKEN=").size());
  return rest.substr(0, rest.find('\n'));
}

// `straits serve` as a child process; its first lines say where and the token.
class Server {
 public:
  Server() : dir_("client-cli") {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    const std::string store = "sqlite:" + (dir_.path() / "straits.db").string();
    const std::string log = (dir_.path() / "serve.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      std::FILE* err = std::freopen(log.c_str(), "w", stderr);
      (void)err;
      ::execl(STRAITS_BINARY, "straits", "serve", "--listen", "127.0.0.1:0", "--store",
              store.c_str(), "--schedule-interval", "0s", "--threads", "4",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
    // "straits serving on http://127.0.0.1:PORT (store ...)", then the token.
    std::string line;
    while (read_line(line)) {
      first_lines_ += line;
      const std::string serving = "straits serving on ";
      if (line.rfind(serving, 0) == 0) {
        url_ = line.substr(serving.size(), line.find(' ', serving.size()) - serving.size());
      }
      const auto token = line.find("export STRAITS_TOKEN=");
      if (token != std::string::npos) {
        token_ = line.substr(token + std::string("export STRAITS_TOKEN=").size());
        while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r'))
          token_.pop_back();
        break;
      }
    }
  }
  ~Server() {
    if (pid_ > 0) stop();
    if (out_ != nullptr) std::fclose(out_);
  }

  const std::string& url() const { return url_; }
  const std::string& token() const { return token_; }
  // What it printed first, and its log: for the message of a failed start.
  std::string first_lines() const {
    std::ifstream in(dir_.path() / "serve.log");
    std::stringstream log;
    log << in.rdbuf();
    return first_lines_ + log.str();
  }
  fs::path store_path() const { return dir_.path() / "straits.db"; }
  const straits::testing_util::TempDir& dir() const { return dir_; }

  // The environment of a client of this server as the admin.
  std::string env() const { return env_with(token_); }
  std::string env_with(const std::string& token) const {
    return "STRAITS_URL=" + shell_quote(url_) + " STRAITS_TOKEN=" + shell_quote(token);
  }
  Outcome run(const std::string& args) const { return straits(env(), args); }

  // SIGTERM; returns the exit code and what it printed after the first lines.
  std::pair<int, std::string> stop() {
    if (pid_ <= 0) return {-1, ""};
    ::kill(pid_, SIGTERM);
    std::string rest, line;
    while (read_line(line)) rest += line;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, rest};
  }

 private:
  bool read_line(std::string& line) {
    line.clear();
    char buffer[1024];
    while (std::fgets(buffer, sizeof buffer, out_) != nullptr) {
      line += buffer;
      if (!line.empty() && line.back() == '\n') return true;
    }
    return !line.empty();
  }

  straits::testing_util::TempDir dir_;
  pid_t pid_ = -1;
  std::FILE* out_ = nullptr;
  std::string url_, token_, first_lines_;
};

// A lease window of the next day (the server refuses one that has ended).
std::pair<std::string, std::string> window() {
  straits::SystemClock clock;
  const straits::Instant now = clock.now();
  const auto hour = straits::Duration::hours(1);
  auto whole = [](straits::Instant t) {  // to the second: easy to read in a table
    return straits::Instant::from_unix_microseconds(t.unix_microseconds() / 1'000'000 * 1'000'000);
  };
  return {straits::to_iso8601(whole(now + hour)), straits::to_iso8601(whole(now + hour * 25))};
}

std::string ask(int gpus) {
  auto [start, end] = window();
  return std::string("--org ") + kOrg + " --pool " + kPool + " --gpus " + std::to_string(gpus) +
         " --start " + start + " --end " + end;
}

TEST(ClientCliTest, LeasablePoolIsAllowedToday) {
  for (const char* action : {"lease", "run"}) {
    Outcome check = straits("", std::string("policy check --json --action ") + action + " --org " +
                                    kOrg + " --pool " + kPool + " --gpus 8");
    ASSERT_EQ(check.exit_code, 0) << check.err;
    EXPECT_EQ(json::parse(check.out).at("decision"), "allow") << check.out;
  }
}

TEST(ClientCliTest, ServerStartsPrintsItsTokenAndStopsOnSigterm) {
  Server server;
  ASSERT_FALSE(server.url().empty()) << server.first_lines();
  ASSERT_FALSE(server.token().empty()) << server.first_lines();
  EXPECT_TRUE(has(server.url(), "http://127.0.0.1:")) << server.url();
  Outcome me = server.run("whoami");
  ASSERT_EQ(me.exit_code, 0) << me.err;
  EXPECT_TRUE(has(me.out, "role admin")) << me.out;
  auto [code, rest] = server.stop();
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(has(rest, "straits stopped")) << rest;
}

TEST(ClientCliTest, LeaseQuoteCreateListGetTerminate) {
  Server server;
  ASSERT_FALSE(server.token().empty()) << server.first_lines();

  Outcome quote = server.run("lease quote " + ask(16));
  ASSERT_EQ(quote.exit_code, 0) << quote.err;
  EXPECT_TRUE(has(quote.out, "ALLOW")) << quote.out;
  EXPECT_TRUE(has(quote.out, "4.2008")) << quote.out;  // the pool's price per GPU-hour
  EXPECT_TRUE(has(quote.out, "GPUs available      512")) << quote.out;

  Outcome create = server.run("lease create " + ask(16));
  ASSERT_EQ(create.exit_code, 0) << create.err;
  EXPECT_TRUE(has(create.out, "ID")) << create.out;
  EXPECT_TRUE(has(create.out, "l-00000001")) << create.out;
  EXPECT_TRUE(has(create.out, "active")) << create.out;

  Outcome list = server.run("lease list");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(has(list.out, "l-00000001")) << list.out;
  EXPECT_TRUE(has(list.out, kPool)) << list.out;
  EXPECT_TRUE(has(list.out, "PRICE/GPU-H")) << list.out;

  // A second lease, then pages of one followed to the end.
  ASSERT_EQ(server.run("lease create " + ask(8)).exit_code, 0);
  Outcome first_page = server.run("lease list --limit 1");
  EXPECT_TRUE(has(first_page.out, "--all")) << first_page.out;
  EXPECT_FALSE(has(first_page.out, "l-00000002")) << first_page.out;
  Outcome all = server.run("lease list --limit 1 --all --json");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  json page = json::parse(all.out);
  ASSERT_EQ(page.at("items").size(), 2u) << all.out;
  EXPECT_EQ(page["items"][1].at("id"), "l-00000002");
  EXPECT_TRUE(page.at("next").is_null());

  Outcome get = server.run("lease get l-00000001 --json");
  ASSERT_EQ(get.exit_code, 0) << get.err;
  json lease = json::parse(get.out);
  EXPECT_EQ(lease.at("gpus"), 16);
  EXPECT_EQ(lease.at("org"), kOrg);
  EXPECT_EQ(lease.at("decision").at("decision"), "allow");
  Outcome shown = server.run("lease get l-00000001");
  EXPECT_TRUE(has(shown.out, "ALLOW: lease")) << shown.out;

  Outcome terminate = server.run("lease terminate l-00000001");
  ASSERT_EQ(terminate.exit_code, 0) << terminate.err;
  EXPECT_TRUE(has(terminate.out, "terminated")) << terminate.out;
  Outcome active = server.run("lease list --state active --json");
  ASSERT_EQ(json::parse(active.out).at("items").size(), 1u) << active.out;

  // The server's refusal, with the field at fault.
  Outcome missing = server.run(
      "lease quote --org halcyon-reach --pool no-such-pool --gpus 8 "
      "--start 2030-01-01T00:00:00Z --end 2030-01-02T00:00:00Z");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(has(missing.err, "straits: no such pool 'no-such-pool' (field pool)")) << missing.err;
  Outcome unknown = server.run("lease get l-00000099");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(has(unknown.err, "l-00000099")) << unknown.err;
}

TEST(ClientCliTest, JobSubmitListGetExplainCancel) {
  Server server;
  ASSERT_FALSE(server.token().empty()) << server.first_lines();

  Outcome submit =
      server.run(std::string("job submit --org ") + kOrg +
                 " --team vision --gpus 8 --work 12 --name resnet --chip h100-sxm "
                 "--priority 5 --checkpoint-interval PT1H --command 'python train.py'");
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  EXPECT_TRUE(has(submit.out, "j-00000001")) << submit.out;
  EXPECT_TRUE(has(submit.out, "queued")) << submit.out;
  EXPECT_TRUE(has(submit.out, "WAITING")) << submit.out;

  // A spec file is sent as it is.
  const fs::path spec =
      server.dir().write("spec.json", std::string(R"({"org": ")") + kOrg +
                                          R"(", "team": "nlp", "gpus": 16, "work": 3})");
  Outcome from_file = server.run("job submit --file " + spec.string() + " --json");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  json filed = json::parse(from_file.out);
  EXPECT_EQ(filed.at("id"), "j-00000002");
  EXPECT_EQ(filed.at("spec").at("gpus"), 16);
  EXPECT_EQ(filed.at("team"), "nlp");
  // --file and --gpus together: a usage error.
  EXPECT_EQ(server.run("job submit --file " + spec.string() + " --gpus 2").exit_code, 2);
  Outcome no_gpus = server.run("job submit --work 3");
  EXPECT_EQ(no_gpus.exit_code, 1);
  EXPECT_TRUE(has(no_gpus.err, "--gpus")) << no_gpus.err;

  Outcome list = server.run("job list");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(has(list.out, "j-00000001")) << list.out;
  EXPECT_TRUE(has(list.out, "j-00000002")) << list.out;
  EXPECT_TRUE(has(list.out, "vision")) << list.out;
  Outcome by_team = server.run("job list --team nlp --json");
  ASSERT_EQ(by_team.exit_code, 0) << by_team.err;
  ASSERT_EQ(json::parse(by_team.out).at("items").size(), 1u) << by_team.out;

  Outcome get = server.run("job get j-00000001 --json");
  ASSERT_EQ(get.exit_code, 0) << get.err;
  json job = json::parse(get.out);
  EXPECT_EQ(job.at("state"), "queued");
  EXPECT_EQ(job.at("spec").at("name"), "resnet");
  EXPECT_EQ(job.at("spec").at("command"), "python train.py");
  Outcome explain = server.run("job get j-00000001 --explain");
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  EXPECT_TRUE(has(explain.out, "j-00000001")) << explain.out;
  EXPECT_TRUE(has(explain.out, "name resnet")) << explain.out;
  Outcome explain_json = server.run("job get j-00000001 --explain --json");
  EXPECT_TRUE(json::parse(explain_json.out).at("blocking").is_array()) << explain_json.out;

  Outcome cancel = server.run("job cancel j-00000001");
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_TRUE(has(cancel.out, "cancelled")) << cancel.out;
  Outcome again = server.run("job cancel j-00000001");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(has(again.err, "has already ended")) << again.err;
  Outcome cancelled = server.run("job list --state cancelled --json");
  ASSERT_EQ(json::parse(cancelled.out).at("items").size(), 1u) << cancelled.out;

  Outcome events = server.run("job events j-00000001");
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_TRUE(has(events.out, "submitted")) << events.out;
  EXPECT_TRUE(has(events.out, "cancelled by")) << events.out;
  Outcome logs = server.run("job logs j-00000001 --json");
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(json::parse(logs.out).at("state"), "cancelled");
}

TEST(ClientCliTest, AuditVerifiesOverTheApiAndOnTheStore) {
  Server server;
  ASSERT_FALSE(server.token().empty()) << server.first_lines();
  ASSERT_EQ(server.run("lease create " + ask(8)).exit_code, 0);
  ASSERT_EQ(server.run(std::string("job submit --org ") + kOrg + " --gpus 8 --work 1").exit_code,
            0);
  ASSERT_EQ(server.run("job cancel j-00000001").exit_code, 0);

  Outcome listed = server.run("audit list --json");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json events = json::parse(listed.out).at("items");
  ASSERT_GE(events.size(), 3u) << listed.out;
  const std::string head = events.back().at("hash");
  const std::string count = std::to_string(events.size());
  Outcome table = server.run("audit list --after 1 --limit 1");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(has(table.out, "ACTION")) << table.out;
  EXPECT_TRUE(has(table.out, "--after 2")) << table.out;

  Outcome verify = server.run("audit verify");
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_TRUE(has(verify.out, "audit log intact: " + count + " events, head " + head))
      << verify.out;
  Outcome expected = server.run("audit verify --expect-head " + head);
  EXPECT_EQ(expected.exit_code, 0) << expected.err;
  Outcome cut = server.run("audit verify --expect-head " + std::string(64, 'a'));
  EXPECT_EQ(cut.exit_code, 1);
  EXPECT_TRUE(has(cut.out, "not in the chain")) << cut.out;

  // Offline, on the store itself, once the server has stopped.
  EXPECT_EQ(server.stop().first, 0);
  const std::string store = "sqlite:" + server.store_path().string();
  Outcome offline = straits("", "audit verify --store " + store + " --expect-head " + head);
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_TRUE(has(offline.out, "audit log intact: " + count + " events, head " + head))
      << offline.out;
  Outcome none =
      straits("", "audit verify --store sqlite:" + (server.dir().path() / "absent.db").string());
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(has(none.err, "no store at")) << none.err;
}

TEST(ClientCliTest, UsersTokensAndWhoami) {
  Server server;
  ASSERT_FALSE(server.token().empty()) << server.first_lines();
  Outcome user =
      server.run(std::string("user create --name ada --role engineer --org ") + kOrg + " --json");
  ASSERT_EQ(user.exit_code, 0) << user.err;
  const std::string id = json::parse(user.out).at("id");
  Outcome users = server.run("user list");
  EXPECT_TRUE(has(users.out, "ada")) << users.out;
  EXPECT_TRUE(has(users.out, "engineer")) << users.out;

  Outcome token = server.run("token create " + id + " --label laptop");
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const std::string secret = secret_of(token.out);
  ASSERT_FALSE(secret.empty()) << token.out;
  Outcome me = straits(server.env_with(secret), "whoami");
  ASSERT_EQ(me.exit_code, 0) << me.err;
  EXPECT_TRUE(has(me.out, "ada (" + id + "), role engineer, org halcyon-reach")) << me.out;
  // --token wins over STRAITS_TOKEN.
  Outcome flag = straits(server.env(), "whoami --token " + shell_quote(secret));
  EXPECT_TRUE(has(flag.out, "ada")) << flag.out;

  Outcome revoke = server.run("token revoke t-00000002");
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_TRUE(has(revoke.out, "revoked")) << revoke.out;
  Outcome revoked = straits(server.env_with(secret), "whoami");
  EXPECT_EQ(revoked.exit_code, 1);
  EXPECT_TRUE(has(revoked.err, "set STRAITS_TOKEN")) << revoked.err;
}

// A mistyped id: the nearest one the caller may list is suggested, and never
// one it may not see.
TEST(ClientCliTest, UnknownIdsSuggestTheNearestTheCallerMaySee) {
  Server server;
  ASSERT_FALSE(server.token().empty()) << server.first_lines();
  Outcome submit =
      server.run(std::string("job submit --org ") + kOrg + " --gpus 8 --work 12 --json");
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  ASSERT_EQ(json::parse(submit.out).at("id"), "j-00000001") << submit.out;

  Outcome get = server.run("job get j-0000001");
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_TRUE(has(get.err, "(did you mean 'j-00000001'?)")) << get.err;
  Outcome cancel = server.run("job cancel j-00000011");
  EXPECT_EQ(cancel.exit_code, 1);
  EXPECT_TRUE(has(cancel.err, "(did you mean 'j-00000001'?)")) << cancel.err;
  // Nothing close: the server's message alone.
  Outcome far = server.run("job events x-1");
  EXPECT_EQ(far.exit_code, 1);
  EXPECT_FALSE(has(far.err, "did you mean")) << far.err;
  EXPECT_EQ(server.run("job get j-00000001").exit_code, 0);

  Outcome user = server.run("user create --name ada --role engineer --org hanshan --json");
  ASSERT_EQ(user.exit_code, 0) << user.err;
  const std::string id = json::parse(user.out).at("id");
  ASSERT_EQ(id, "u-00000002");
  Outcome token = server.run("token create u-0000002");
  EXPECT_EQ(token.exit_code, 1);
  EXPECT_TRUE(has(token.err, "(did you mean 'u-00000002'?)")) << token.err;
  Outcome request = server.run("request get cr-0000001");
  EXPECT_EQ(request.exit_code, 1);
  EXPECT_FALSE(has(request.err, "did you mean")) << request.err;  // there is none

  // Another org's engineer may not see j-00000001: no suggestion of it.
  Outcome made = server.run("token create " + id);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string secret = secret_of(made.out);
  ASSERT_FALSE(secret.empty()) << made.out;
  Outcome hidden = straits(server.env_with(secret), "job get j-0000001");
  EXPECT_EQ(hidden.exit_code, 1);
  EXPECT_FALSE(has(hidden.err, "did you mean")) << hidden.err;
  Outcome exact = straits(server.env_with(secret), "job get j-00000001");
  EXPECT_EQ(exact.exit_code, 1);
  EXPECT_FALSE(has(exact.err, "did you mean")) << exact.err;
}

TEST(ClientCliTest, DecideShowsOutcomeAndCitations) {
  Server server;
  ASSERT_FALSE(server.token().empty()) << server.first_lines();
  Outcome decide =
      server.run(std::string("decide --action lease --org ") + kOrg + " --pool " + kPool);
  ASSERT_EQ(decide.exit_code, 0) << decide.err;
  EXPECT_TRUE(has(decide.out, "ALLOW: lease")) << decide.out;
  EXPECT_TRUE(has(decide.out, "holds until")) << decide.out;
  Outcome run = server.run(std::string("decide --action run --org ") + kOrg + " --pool " + kPool +
                           " --gpus 8 --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json d = json::parse(run.out);
  EXPECT_EQ(d.at("action"), "run");
  EXPECT_TRUE(d.at("rules").is_array());
  EXPECT_EQ(server.run("decide --action fly").exit_code, 2);
}

TEST(ClientCliTest, BadTokenAndNoServerSayWhatToDo) {
  Server server;
  ASSERT_FALSE(server.token().empty()) << server.first_lines();
  Outcome bad = straits(server.env_with("not-a-token"), "lease list");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(has(bad.err, "straits: unknown token")) << bad.err;
  EXPECT_TRUE(has(bad.err, "set STRAITS_TOKEN")) << bad.err;
  Outcome none =
      straits("STRAITS_URL=" + shell_quote(server.url()) + " STRAITS_TOKEN=", "job list");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(has(none.err, "no token given")) << none.err;

  // A port nobody listens on: the URL and `straits serve` are named.
  auto [code, rest] = server.stop();
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(has(rest, "straits stopped")) << rest;
  Outcome down =
      straits("STRAITS_URL=" + shell_quote(server.url()) + " STRAITS_TOKEN=x", "job list");
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_TRUE(has(down.err, "cannot reach the straits server at " + server.url())) << down.err;
  EXPECT_TRUE(has(down.err, "straits serve")) << down.err;
}

TEST(ClientCliTest, AnAgentTokenInOneCallAndChangeRequests) {
  Server server;
  ASSERT_FALSE(server.token().empty()) << server.first_lines();
  // The agent's user and its token in one call, bound to its sites.
  Outcome made = server.run("token create --role agent --site sg-tuas-1 --site jp-tokyo-1");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(has(made.out, "(agent-sg-tuas-1, agent of [\"sg-tuas-1\",\"jp-tokyo-1\"])"))
      << made.out;
  const std::string secret = secret_of(made.out);
  ASSERT_FALSE(secret.empty()) << made.out;
  Outcome me = straits(server.env_with(secret), "whoami --json");
  ASSERT_EQ(me.exit_code, 0) << me.err;
  EXPECT_EQ(json::parse(me.out).at("role"), "agent");
  EXPECT_EQ(json::parse(me.out).at("sites"), json({"sg-tuas-1", "jp-tokyo-1"}));
  // It reads nothing else.
  Outcome jobs = straits(server.env_with(secret), "job list");
  EXPECT_EQ(jobs.exit_code, 1);
  EXPECT_TRUE(has(jobs.err, "an agent token may only")) << jobs.err;
  // Not a user id and --role both; neither is a usage error.
  EXPECT_EQ(server.run("token create u-00000001 --role agent --site sg-tuas-1").exit_code, 2);
  EXPECT_EQ(server.run("token create").exit_code, 2);
  EXPECT_EQ(server.run("token create --role agent --site nowhere").exit_code, 1);

  // Change requests: none yet; a rejection needs its reason.
  Outcome list = server.run("request list --state pending");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(has(list.out, "REQUESTED BY")) << list.out;
  EXPECT_EQ(server.run("request reject cr-00000001").exit_code, 2);
  Outcome missing = server.run("request approve cr-00000001");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(has(missing.err, "no such change request 'cr-00000001'")) << missing.err;
}

}  // namespace

// Rule sets from the command line (issue 17): a pack pushed as text, then
// what it would change: the diff against the rules in force, its impact on
// the live fleet, and a replay of the recent jobs under both sets.
TEST(ClientCliTest, RulesPushDiffImpactAndSimulate) {
  Server server;
  ASSERT_FALSE(server.token().empty()) << server.first_lines();
  auto [start, end] = window();
  // hanshan-sg (its parent chain ends in China) leases Singapore H100s.
  Outcome lease = server.run(std::string("lease create --org hanshan-sg --pool ") + kPool +
                             " --gpus 8 --start " + start + " --end " + end + " --json");
  ASSERT_EQ(lease.exit_code, 0) << lease.err;
  const std::string lease_id = json::parse(lease.out).at("id");
  ASSERT_EQ(server.run("job submit --org hanshan-sg --gpus 8 --work 40 --chip h100-sxm").exit_code,
            0);
  // close-remote-access, biting an hour from now.
  const std::string source = STRAITS_SOURCE_DIR;
  Outcome pushed = server.run("rules push " + source + "/rules/default " + source +
                              "/rules/scenarios/close-remote-access --name close-ra --param "
                              "close_from=" +
                              start + " --propose --json");
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  const std::string id = json::parse(pushed.out).at("id");

  Outcome diff = server.run("rules diff " + id);
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_TRUE(has(diff.out, kPool)) << diff.out;
  EXPECT_TRUE(has(diff.out, "hanshan-sg")) << diff.out;
  EXPECT_TRUE(has(diff.out, "deny")) << diff.out;
  Outcome diff_json = server.run("rules diff " + id + " --json");
  ASSERT_EQ(diff_json.exit_code, 0) << diff_json.err;
  EXPECT_FALSE(json::parse(diff_json.out).at("groups").empty()) << diff_json.out;
  Outcome empty = server.run("rules diff " + id + " --from " + end + " --to " + start);
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_TRUE(has(empty.err, "'to' must be after 'from'")) << empty.err;

  Outcome impact = server.run("rules impact " + id);
  ASSERT_EQ(impact.exit_code, 0) << impact.err;
  EXPECT_TRUE(has(impact.out, lease_id)) << impact.out;
  EXPECT_TRUE(has(impact.out, "leases lost or needing a licence: 1")) << impact.out;

  const fs::path out = server.dir().path() / "impact";
  Outcome replay = server.run("rules impact " + id + " --simulate 7 --out " + out.string());
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_TRUE(has(replay.out, "compare.html")) << replay.out;
  EXPECT_TRUE(fs::exists(out / "compare.html"));
  EXPECT_TRUE(fs::exists(out / "inputs" / "workload.jsonl"));
  Outcome unknown = server.run("rules impact rs-00000099");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(has(unknown.err, "rs-00000099")) << unknown.err;
}
