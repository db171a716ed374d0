// Who a run executes as, and the folders it may reach.
//
// A job is someone else's code: when the agent runs as root, every run
// executes as an unprivileged user (LaunchSpec::run_as), by default the
// dedicated system user `straits-run` (scripts/install-deps.sh creates it),
// or one user per org (`--run-as-per-org`) so that two tenants at one site
// cannot read each other's folders. An agent that does not run as root runs
// jobs as itself: the deployer must then isolate the agent (docs/agents.md).
//
// Folders: WORK_ROOT/JOB/attempt-N and CHECKPOINT_ROOT/JOB/attempt-N belong to
// the run's user, mode 0700; the roots and the JOB folders belong to the
// agent, mode 0711 (a run can pass through them to its own folder, not list
// them), so that a run cannot replace a folder of the path by a link.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "exec/backend.h"

namespace straits::exec {

// The default run user of an agent running as root.
inline constexpr std::string_view kDefaultRunUser = "straits-run";

// The user `name` with its primary group and supplementary groups.
// Errors: kNotFound (no such user), kInvalidArgument (it is root: uid 0).
Result<RunUser> find_run_user(const std::string& name);

// find_run_user, after creating the user when it is missing: `useradd
// --system --no-create-home --user-group --shell /usr/sbin/nologin NAME`
// (root only). Errors: kFailedPrecondition when useradd fails, with its message.
Result<RunUser> ensure_run_user(const std::string& name);

// The Unix user of an org's runs under --run-as-per-org: "st-" and the org
// id in lowercase, characters other than [a-z0-9-] as '-'; an id that would
// make it longer than 32 characters (useradd's limit) is cut and ends with
// 8 hex digits of a hash of the whole id, so that two orgs never share one.
std::string org_run_user(std::string_view org);

// True when this process runs as root (effective uid 0).
bool running_as_root();

// Creates `dir` (a run's work or checkpoint folder) for `user`: its parent is
// created if missing and set to mode 0711, `dir` itself is created with mode
// 0700 and given to `user` (kept as it is when the agent runs jobs as
// itself). A `dir` that exists must be a folder, not a link.
// Errors: kInternal naming the folder.
Status prepare_run_folder(const std::filesystem::path& dir, const std::optional<RunUser>& user);

// Makes `dir` (the agent's work or checkpoint root, or its state folder)
// exist with mode 0711: a run can pass through it, not list it.
// Errors: kInternal naming the folder.
Status prepare_agent_folder(const std::filesystem::path& dir);

// Checks that a run as another user can reach `dir`: every folder above it
// must be searchable by others (the x bit). Errors: kFailedPrecondition
// naming the first folder that is not.
Status check_reachable_by_runs(const std::filesystem::path& dir);

}  // namespace straits::exec
