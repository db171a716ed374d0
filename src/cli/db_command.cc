// straits db migrate|status
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/commands.h"
#include "core/clock.h"
#include "store/store.h"

namespace straits::cli {
namespace {

struct DbOptions {
  std::string store = "sqlite:straits.db";
};

void print(std::ostream& out, const store::SchemaStatus& s) {
  out << "schema version " << s.version << " of " << s.latest << " (" << s.backend << ")\n";
  for (const auto& m : s.applied) {
    out << "  applied  " << m.name << "  " << to_iso8601(m.applied_at) << "\n";
  }
  for (const auto& name : s.pending) out << "  pending  " << name << "\n";
}

void run(Context& context, const DbOptions& o, bool migrate) {
  auto url = store::parse_store_url(o.store);
  if (!url) return context.fail(url.error().message());
  SystemClock clock;
  auto db = store::Store::open(*url, clock);
  if (!db) return context.fail(db.error().message());
  auto status = migrate ? (*db)->migrate() : (*db)->status();
  if (!status) return context.fail(status.error().message());
  print(*context.out, *status);
  if (status->newer_than_binary()) {
    context.fail(store::describe(*url) + " is newer than this straits: upgrade straits");
  }
}

}  // namespace

void add_db_command(CLI::App& app, Context& context) {
  CLI::App* db = app.add_subcommand("db", "The durable store: schema migrations");
  db->require_subcommand(1);
  auto o = std::make_shared<DbOptions>();
  auto add = [&](const char* name, const char* help, bool migrate) {
    CLI::App* command = db->add_subcommand(name, help);
    command->add_option("--store", o->store,
                        "sqlite:PATH (default sqlite:straits.db) or postgres://...");
    command->callback([&context, o, migrate] { run(context, *o, migrate); });
  };
  add("migrate", "Apply the pending schema migrations", true);
  add("status", "Show the schema version and the pending migrations", false);
}

}  // namespace straits::cli
