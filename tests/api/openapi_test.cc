// The OpenAPI document (src/api/openapi.json) against the server itself: it
// is served without a token, describes exactly the routes the server
// answers, every $ref in it resolves, and every route, called for real, answers
// a status the document lists with a body that conforms to the documented
// schema (checked by the small JSON-schema checker below, for the subset of
// keywords the document uses).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "api/server_fixture.h"

namespace straits::api {
namespace {

using testing_util::Answer;
using testing_util::json;
using testing_util::TestServer;

const char* const kMethods[] = {"get", "post", "patch", "put", "delete"};

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string join(const std::vector<std::string>& items, const std::string& separator = "\n  ") {
  std::string out;
  for (const std::string& i : items) out += separator + i;
  return out;
}

// Validates a JSON value against an OpenAPI 3.0 schema object. Supported:
// $ref (within the document), allOf, oneOf, type, nullable, enum, pattern,
// required, properties, additionalProperties (false or a schema), items.
// Other keywords (format, minimum, description, ...) are not checked.
class SchemaChecker {
 public:
  explicit SchemaChecker(const json& document) : document_(document) {}

  // Follows $ref; throws std::out_of_range for a reference that is missing.
  const json& resolve(const json& schema) const {
    const json* at = &schema;
    for (int hops = 0; at->is_object() && at->contains("$ref"); ++hops) {
      const std::string ref = at->at("$ref").get<std::string>();
      if (ref.rfind("#/", 0) != 0 || hops > 32) throw std::out_of_range("bad $ref " + ref);
      at = &document_.at(json::json_pointer(ref.substr(1)));
    }
    return *at;
  }

  // The problems of `value` at `where` ("$.items[0].spec"); empty when it conforms.
  std::vector<std::string> check(const json& schema, const json& value,
                                 const std::string& where = "$") const {
    std::vector<std::string> problems;
    check(schema, value, where, problems);
    return problems;
  }

 private:
  static bool is_type(const json& v, const std::string& type) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_number_integer();
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    return false;
  }

  void check(const json& schema_in, const json& v, const std::string& where,
             std::vector<std::string>& out) const {
    const json& s = resolve(schema_in);
    if (v.is_null()) {
      if (s.value("nullable", false)) return;
      // A schema without type, allOf or oneOf takes any value, null included.
      if (!s.contains("type") && !s.contains("allOf") && !s.contains("oneOf")) return;
      out.push_back(where + ": null, and the schema is not nullable");
      return;
    }
    if (s.contains("allOf")) {
      for (const json& sub : s["allOf"]) check(sub, v, where, out);
    }
    if (s.contains("oneOf")) {
      int matches = 0;
      for (const json& sub : s["oneOf"]) {
        std::vector<std::string> sub_problems;
        check(sub, v, where, sub_problems);
        matches += sub_problems.empty() ? 1 : 0;
      }
      if (matches != 1) {
        out.push_back(where + ": matches " + std::to_string(matches) + " schemas of oneOf, not 1");
      }
    }
    if (s.contains("type") && !is_type(v, s["type"].get<std::string>())) {
      out.push_back(where + ": expected " + s["type"].get<std::string>() + ", got " +
                    v.type_name() + " " + v.dump().substr(0, 80));
      return;
    }
    if (s.contains("enum")) {
      bool found = false;
      for (const json& e : s["enum"]) found = found || e == v;
      if (!found) out.push_back(where + ": " + v.dump() + " is not one of " + s["enum"].dump());
    }
    if (s.contains("pattern") && v.is_string() &&
        !std::regex_search(v.get<std::string>(), std::regex(s["pattern"].get<std::string>()))) {
      out.push_back(where + ": '" + v.get<std::string>() + "' does not match " +
                    s["pattern"].get<std::string>());
    }
    if (v.is_object()) {
      for (const json& key : s.value("required", json::array())) {
        if (!v.contains(key.get<std::string>())) {
          out.push_back(where + ": required property '" + key.get<std::string>() + "' missing");
        }
      }
      const json properties = s.value("properties", json::object());
      for (const auto& [key, item] : v.items()) {
        const std::string at = where + "." + key;
        if (properties.contains(key)) {
          check(properties[key], item, at, out);
        } else if (s.contains("additionalProperties")) {
          const json& extra = s["additionalProperties"];
          if (extra.is_boolean() && !extra.get<bool>()) {
            out.push_back(at + ": property not in the schema (additionalProperties: false)");
          } else if (extra.is_object()) {
            check(extra, item, at, out);
          }
        }
      }
    }
    if (v.is_array() && s.contains("items")) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        check(s["items"], v[i], where + "[" + std::to_string(i) + "]", out);
      }
    }
  }

  const json& document_;
};

// The document's routes as "METHOD /path", sorted.
std::vector<std::string> documented_routes(const json& doc) {
  std::vector<std::string> out;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const char* method : kMethods) {
      if (item.contains(method)) out.push_back(upper(method) + " " + path);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every {"$ref": ...} in `node`, with where it is.
void collect_refs(const json& node, const std::string& where,
                  std::vector<std::pair<std::string, std::string>>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "$ref" && value.is_string()) {
        out.emplace_back(where, value.get<std::string>());
      } else {
        collect_refs(value, where + "/" + key, out);
      }
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      collect_refs(node[i], where + "/" + std::to_string(i), out);
    }
  }
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    admin_ = server_.admin_token();
    Answer served = server_.get("/v1/openapi.json", "");
    ASSERT_EQ(served.status, 200) << served.text;
    ASSERT_TRUE(served.body.is_object()) << served.text.substr(0, 200);
    doc_ = served.body;
  }

  // The operation of "METHOD pattern", or nullptr.
  const json* operation(const std::string& method, const std::string& pattern) const {
    auto path = doc_["paths"].find(pattern);
    if (path == doc_["paths"].end()) return nullptr;
    auto op = path->find(lower(method));
    return op == path->end() ? nullptr : &*op;
  }

  // Sends the request and checks the answer against the document: its status
  // is one the operation lists (and `expected` unless 0), its body conforms
  // to that response's schema. Returns the answer.
  Answer call(const std::string& method, const std::string& pattern, const std::string& path,
              const std::string& token, const json& body, int expected,
              const std::string& as = "admin") {
    const std::string what = method + " " + path + " as " + as;
    Answer a = server_.request(method, path, token, body.is_null() ? "" : body.dump());
    ++checked_;
    if (expected != 0) {
      EXPECT_EQ(a.status, expected) << what << " -> " << a.text.substr(0, 2000);
    }
    const json* op = operation(method, pattern);
    if (!op) {
      ADD_FAILURE() << what << ": '" << method << " " << pattern << "' is not documented";
      return a;
    }
    if (a.status >= 200 && a.status < 300) succeeded_.insert(method + " " + pattern);
    const std::string status = std::to_string(a.status);
    if (!op->at("responses").contains(status)) {
      std::string listed;
      for (const auto& [code, r] : op->at("responses").items()) listed += " " + code;
      ADD_FAILURE() << what << " answered " << status << ", which the document does not list for "
                    << op->at("operationId") << " (it lists" << listed << ")\n"
                    << a.text.substr(0, 2000);
      return a;
    }
    const json& response = checker_.resolve(op->at("responses").at(status));
    const json content = response.value("content", json::object());
    if (content.contains("application/json")) {
      if (!a.body.is_object() && !a.body.is_array()) {
        ADD_FAILURE() << what << " -> " << status
                      << ": the body is not JSON: " << a.text.substr(0, 500);
        return a;
      }
      auto problems = checker_.check(content["application/json"]["schema"], a.body);
      EXPECT_TRUE(problems.empty())
          << what << " -> " << status
          << ": the body does not conform to the documented schema:" << join(problems)
          << "\nbody: " << a.text.substr(0, 3000);
    } else {
      EXPECT_FALSE(a.text.empty()) << what << " -> " << status << ": empty body";
    }
    return a;
  }

  // The route's pattern with {id} replaced by the id this test made for its
  // collection (or `id` when given).
  std::string concrete(const std::string& pattern, const std::string& id = "") const {
    const auto brace = pattern.find("{id}");
    if (brace == std::string::npos) return pattern;
    const auto slash = pattern.find('/', 4);
    const std::string collection = pattern.substr(4, slash - 4);  // after "/v1/"
    const std::string value = id.empty() ? ids_.at(collection) : id;
    return pattern.substr(0, brace) + value + pattern.substr(brace + 4);
  }

  bool takes_body(const std::string& method, const std::string& pattern) const {
    const json* op = operation(method, pattern);
    return op && op->contains("requestBody");
  }
  bool is_public(const std::string& method, const std::string& pattern) const {
    const json* op = operation(method, pattern);
    return op && op->contains("security") && op->at("security").empty();
  }

  TestServer server_;  // the clock starts at 2026-01-01T00:00:00Z
  std::string admin_;
  json doc_;
  SchemaChecker checker_{doc_};
  std::map<std::string, std::string> ids_;  // collection ("leases") -> an id made in it
  std::set<std::string> succeeded_;         // routes that answered 2xx at least once
  int checked_ = 0;
};

TEST_F(OpenApiTest, IsServedWithoutATokenAndIsOpenApi3) {
  Answer a = server_.get("/v1/openapi.json", "");
  ASSERT_EQ(a.status, 200);
  ASSERT_TRUE(a.body.is_object());
  EXPECT_EQ(a.body, json::parse(openapi_document()));
  ASSERT_TRUE(a.body["openapi"].is_string());
  EXPECT_EQ(a.body["openapi"].get<std::string>().rfind("3.", 0), 0u) << a.body["openapi"];
  EXPECT_TRUE(a.body["info"]["title"].is_string());
  EXPECT_TRUE(a.body["info"]["version"].is_string());
  EXPECT_EQ(a.body["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
  EXPECT_EQ(a.body["security"], json::parse(R"([{"bearer": []}])"));
}

TEST_F(OpenApiTest, DescribesExactlyTheServersRoutes) {
  const std::vector<std::string> served = Server::routes();
  const std::vector<std::string> documented = documented_routes(doc_);
  std::vector<std::string> undocumented, not_served;
  std::set_difference(served.begin(), served.end(), documented.begin(), documented.end(),
                      std::back_inserter(undocumented));
  std::set_difference(documented.begin(), documented.end(), served.begin(), served.end(),
                      std::back_inserter(not_served));
  EXPECT_TRUE(undocumented.empty())
      << "routes the server answers that the document lacks:" << join(undocumented);
  EXPECT_TRUE(not_served.empty()) << "routes the document describes that the server lacks:"
                                  << join(not_served);
  EXPECT_EQ(served.size(), documented.size());
  // Exactly the routes answered without a token say so (security: []).
  std::vector<std::string> open;
  for (const std::string& route : documented) {
    const auto space = route.find(' ');
    if (is_public(route.substr(0, space), route.substr(space + 1))) open.push_back(route);
  }
  EXPECT_EQ(open, (std::vector<std::string>{"GET /healthz", "GET /v1/openapi.json"}));
}

TEST_F(OpenApiTest, OperationsHaveIdsAndResponsesAndEveryRefResolves) {
  std::set<std::string> ids;
  for (const std::string& route : documented_routes(doc_)) {
    const auto space = route.find(' ');
    const json& op = *operation(route.substr(0, space), route.substr(space + 1));
    ASSERT_TRUE(op.contains("operationId") && op["operationId"].is_string()) << route;
    EXPECT_TRUE(ids.insert(op["operationId"].get<std::string>()).second)
        << route << ": operationId " << op["operationId"] << " is used twice";
    ASSERT_TRUE(op.contains("responses") && op["responses"].is_object()) << route;
    EXPECT_FALSE(op["responses"].empty()) << route;
    EXPECT_TRUE(op.contains("summary")) << route;
    // Every path parameter is declared.
    std::set<std::string> declared;
    for (const json& p : op.value("parameters", json::array())) {
      if (p["in"] == "path") declared.insert(p["name"].get<std::string>());
      EXPECT_TRUE(p.contains("schema")) << route << " parameter " << p["name"];
    }
    const std::string path = route.substr(space + 1);
    static const std::regex param("\\{([a-z_]+)\\}");
    for (auto it = std::sregex_iterator(path.begin(), path.end(), param);
         it != std::sregex_iterator(); ++it) {
      EXPECT_TRUE(declared.count((*it)[1].str())) << route << ": {" << (*it)[1] << "} undeclared";
    }
    // Every authenticated route documents 401; every one that takes a body, 400.
    if (!is_public(route.substr(0, space), path)) {
      EXPECT_TRUE(op["responses"].contains("401")) << route;
    }
    if (op.contains("requestBody")) {
      EXPECT_TRUE(op["responses"].contains("400")) << route;
    }
  }
  std::vector<std::pair<std::string, std::string>> refs;
  collect_refs(doc_, "#", refs);
  EXPECT_GT(refs.size(), 100u);
  std::vector<std::string> dangling;
  for (const auto& [where, ref] : refs) {
    try {
      (void)checker_.resolve(json{{"$ref", ref}});
    } catch (const std::exception&) {
      dangling.push_back(where + ": " + ref);
    }
  }
  EXPECT_TRUE(dangling.empty()) << "$refs that do not resolve:" << join(dangling);
}

TEST_F(OpenApiTest, TheCheckerFindsWhatDiffersFromTheSchema) {
  Answer lease = server_.post("/v1/leases", admin_,
                              {{"org", "bellhollow"},
                               {"pool", "sg-tuas-1-h100"},
                               {"gpus", 8},
                               {"start", "2026-01-01T00:00:00Z"},
                               {"end", "2026-02-01T00:00:00Z"}});
  ASSERT_EQ(lease.status, 201) << lease.text;
  const json schema = {{"$ref", "#/components/schemas/Lease"}};
  EXPECT_TRUE(checker_.check(schema, lease.body).empty())
      << join(checker_.check(schema, lease.body));
  struct Case {
    const char* what;
    std::function<void(json&)> change;
    const char* problem;  // expected in the one problem reported
  };
  const std::vector<Case> cases = {
      {"missing", [](json& j) { j.erase("state"); }, "$: required property 'state' missing"},
      {"extra", [](json& j) { j["colour"] = "red"; }, "$.colour: property not in the schema"},
      {"type", [](json& j) { j["gpus"] = "8"; }, "$.gpus: expected integer, got string"},
      {"fraction", [](json& j) { j["gpus"] = 8.5; }, "$.gpus: expected integer"},
      {"enum", [](json& j) { j["state"] = "paused"; }, "$.state: \"paused\" is not one of"},
      {"null", [](json& j) { j["created_at"] = nullptr; }, "$.created_at: null"},
      {"nested", [](json& j) { j["decision"]["decision"] = "maybe"; }, "$.decision.decision:"},
      {"items",
       [](json& j) {
         j["decision"]["licences"] = {"a", 1};
       },
       "$.decision.licences[1]: expected string"},
  };
  for (const Case& c : cases) {
    json changed = lease.body;
    c.change(changed);
    auto problems = checker_.check(schema, changed);
    ASSERT_EQ(problems.size(), 1u) << c.what << ":" << join(problems);
    EXPECT_NE(problems[0].find(c.problem), std::string::npos) << c.what << ": " << problems[0];
  }
  // A nullable $ref (allOf + nullable) takes null and checks what is not.
  json no_decision = lease.body;
  no_decision["decision"] = nullptr;
  EXPECT_TRUE(checker_.check(schema, no_decision).empty());
  // oneOf: exactly one.
  const json command = doc_["components"]["schemas"]["JobSubmission"]["properties"]["command"];
  EXPECT_TRUE(checker_.check(command, "run.sh").empty());
  EXPECT_TRUE(checker_.check(command, json::array({"python", "x.py"})).empty());
  EXPECT_EQ(checker_.check(command, 7).size(), 1u);
}

TEST_F(OpenApiTest, EveryRouteAnswersAsDocumented) {
  // ---- The admin makes one of everything, reads it, changes it. ----------
  struct Entity {
    std::string plural;
    json body;
    std::string filter;  // a list query
  };
  const std::vector<Entity> entities = {
      {"operators", {{"id", "op-x"}, {"name", "Op X"}, {"hq", "SG"}}, "?hq=SG&limit=50"},
      {"sites",
       {{"id", "site-x"},
        {"name", "Site X"},
        {"operator", "op-x"},
        {"country", "SG"},
        {"city", "Singapore"},
        {"state_funded", false}},
       "?operator=op-x"},
      {"pools",
       {{"id", "pool-x"},
        {"site", "site-x"},
        {"chip", "h100-sxm"},
        {"nodes", 2},
        {"gpus_per_node", 8},
        {"interconnect", "InfiniBand"},
        {"price_per_gpu_hour", "3.5 USD"},
        {"price_source", "a test"}},
       "?retired=all"},
      {"orgs", {{"id", "org-x"}, {"name", "Org X"}, {"hq", "SG"}}, "?limit=2"},
      {"licences",
       {{"id", "lic-x"},
        {"name", "US-EAR-H20"},
        {"holder", "org-x"},
        {"chips", {"h20"}},
        {"countries", {"CN"}},
        {"valid_from", "2025-01-01"},
        {"issuer", "US BIS"}},
       ""},
      {"datasets",
       {{"id", "ds-x"},
        {"name", "DS X"},
        {"owner", "org-x"},
        {"origin", "SG"},
        {"class", "public"},
        {"size_tb", 1.5}},
       "?owner=org-x"},
  };
  std::map<std::string, json> bodies;  // "METHOD pattern" -> a valid body
  for (const Entity& e : entities) {
    const std::string base = "/v1/" + e.plural;
    ids_[e.plural] = e.body["id"];
    bodies["POST " + base] = e.body;
    bodies["PATCH " + base + "/{id}"] = {{"notes", "patched"}};
    bodies["POST " + base + "/{id}/retire"] = json::object();
    call("POST", base, base, admin_, e.body, 201);
    call("POST", base, base, admin_, e.body, 409);  // the id exists
    call("GET", base, base + e.filter, admin_, nullptr, 200);
    call("GET", base, base + "?retired=true", admin_, nullptr, 200);
    call("GET", base + "/{id}", concrete(base + "/{id}"), admin_, nullptr, 200);
    Answer patched = call("PATCH", base + "/{id}", concrete(base + "/{id}"), admin_,
                          bodies["PATCH " + base + "/{id}"], 200);
    EXPECT_EQ(patched.body["notes"], "patched");
  }
  // Every seeded entity conforms too (one page each).
  for (const Entity& e : entities) {
    Answer all = call("GET", "/v1/" + e.plural, "/v1/" + e.plural + "?limit=1000&retired=all",
                      admin_, nullptr, 200);
    EXPECT_GT(all.body["items"].size(), 1u) << e.plural;
  }
  call("POST", "/v1/pools", "/v1/pools", admin_,
       {{"id", "pool-y"},
        {"site", "site-x"},
        {"chip", "no-such-chip"},
        {"nodes", 1},
        {"gpus_per_node", 8},
        {"interconnect", "x"},
        {"price_per_gpu_hour", "1 USD"},
        {"price_source", "x"}},
       422);

  ids_["chips"] = "h100-sxm";
  call("GET", "/v1/chips", "/v1/chips", admin_, nullptr, 200);
  call("GET", "/v1/chips/{id}", concrete("/v1/chips/{id}"), admin_, nullptr, 200);

  call("GET", "/v1/whoami", "/v1/whoami", admin_, nullptr, 200);
  bodies["POST /v1/users"] = {{"name", "olga"}, {"role", "engineer"}, {"org", "bellhollow"}};
  Answer user = call("POST", "/v1/users", "/v1/users", admin_, bodies["POST /v1/users"], 201);
  ASSERT_EQ(user.status, 201);
  ids_["users"] = user.body["id"];
  call("POST", "/v1/users", "/v1/users", admin_, bodies["POST /v1/users"], 409);
  call("GET", "/v1/users", "/v1/users?role=engineer&limit=10", admin_, nullptr, 200);
  call("GET", "/v1/users/{id}", concrete("/v1/users/{id}"), admin_, nullptr, 200);
  bodies["POST /v1/users/{id}/tokens"] = {{"label", "ci"}};
  Answer token = call("POST", "/v1/users/{id}/tokens", concrete("/v1/users/{id}/tokens"), admin_,
                      bodies["POST /v1/users/{id}/tokens"], 201);
  ASSERT_EQ(token.status, 201);
  ids_["tokens"] = token.body["id"];
  call("GET", "/v1/users/{id}/tokens", concrete("/v1/users/{id}/tokens"), admin_, nullptr, 200);

  // ---- A tenant-admin's change of a compliance fact waits for a checker. --
  const std::string owner_admin = server_.make_user("oskar", "tenant-admin", "org-x");
  Answer asked = call("PATCH", "/v1/datasets/{id}", concrete("/v1/datasets/{id}"), owner_admin,
                      {{"origin", "MY"}}, 202, "tenant-admin");
  ASSERT_EQ(asked.status, 202);
  ids_["change-requests"] = asked.body["id"];
  bodies["POST /v1/change-requests/{id}/approve"] = json::object();
  bodies["POST /v1/change-requests/{id}/reject"] = {{"reason", "a test"}};
  call("GET", "/v1/change-requests", "/v1/change-requests?state=pending&kind=dataset&limit=5",
       admin_, nullptr, 200);
  call("GET", "/v1/change-requests/{id}", concrete("/v1/change-requests/{id}"), owner_admin,
       nullptr, 200, "tenant-admin");
  call("POST", "/v1/change-requests/{id}/approve", concrete("/v1/change-requests/{id}/approve"),
       owner_admin, json::object(), 403, "tenant-admin");
  call("POST", "/v1/change-requests/{id}/reject", concrete("/v1/change-requests/{id}/reject"),
       admin_, json::object(), 400);  // no reason
  call("POST", "/v1/change-requests/{id}/approve", concrete("/v1/change-requests/{id}/approve"),
       admin_, {{"reason", "checked"}}, 200);
  call("POST", "/v1/change-requests/{id}/approve", concrete("/v1/change-requests/{id}/approve"),
       admin_, nullptr, 409);  // decided
  Answer again = call("PATCH", "/v1/datasets/{id}", concrete("/v1/datasets/{id}"), owner_admin,
                      {{"class", "personal"}}, 202, "tenant-admin");
  call("POST", "/v1/change-requests/{id}/reject",
       concrete("/v1/change-requests/{id}/reject", again.body.value("id", "")), admin_,
       {{"reason", "the data is public"}}, 200);

  // ---- Rule sets (issue 17): the admin pushes one, proposes it, adopts it
  // for 2030 (the rules in force now stay), and retires it at the end.
  const json pack = {{"name", "late"},
                     {"files",
                      {{"late.rules",
                        "rule test.late {\n  title \"t\"\n  source \"s\"\n"
                        "  effective 2020-01-01 ..\n  on ship\n  when ship.quantity > 1e15\n"
                        "  then forbid\n}\n"}}}};
  bodies["POST /v1/rulesets"] = {{"name", "late"}, {"packs", {pack}}, {"params", json::object()}};
  bodies["POST /v1/rulesets/{id}/adopt"] = {{"effective", "2030-01-01T00:00:00Z"}};
  Answer set =
      call("POST", "/v1/rulesets", "/v1/rulesets", admin_, bodies["POST /v1/rulesets"], 201);
  ASSERT_EQ(set.status, 201);
  ids_["rulesets"] = set.body["id"];
  json broken = bodies["POST /v1/rulesets"];
  broken["packs"][0]["files"]["late.rules"] = "rule {";
  call("POST", "/v1/rulesets", "/v1/rulesets", admin_, broken, 422);
  call("POST", "/v1/rulesets/{id}/adopt", concrete("/v1/rulesets/{id}/adopt"), admin_,
       bodies["POST /v1/rulesets/{id}/adopt"], 409);  // a draft
  call("POST", "/v1/rulesets/{id}/propose", concrete("/v1/rulesets/{id}/propose"), admin_, nullptr,
       200);
  call("POST", "/v1/rulesets/{id}/adopt", concrete("/v1/rulesets/{id}/adopt"), admin_,
       {{"effective", "2025-01-01T00:00:00Z"}}, 422);  // in the past
  call("POST", "/v1/rulesets/{id}/adopt", concrete("/v1/rulesets/{id}/adopt"), admin_,
       bodies["POST /v1/rulesets/{id}/adopt"], 200);
  call("GET", "/v1/rulesets", "/v1/rulesets?state=adopted&limit=10", admin_, nullptr, 200);
  call("GET", "/v1/rulesets/{id}", concrete("/v1/rulesets/{id}"), admin_, nullptr, 200);

  // At 2026-01-01 bellhollow may lease sg-tuas-1-h100 (`straits policy check`).
  const json ask = {{"org", "bellhollow"},
                    {"pool", "sg-tuas-1-h100"},
                    {"gpus", 16},
                    {"start", "2026-01-01T00:00:00Z"},
                    {"end", "2026-03-01T00:00:00Z"}};
  bodies["POST /v1/leases/quote"] = ask;
  bodies["POST /v1/leases"] = ask;
  bodies["POST /v1/leases/{id}/terminate"] = json::object();
  call("POST", "/v1/leases/quote", "/v1/leases/quote", admin_, ask, 200);
  Answer lease = call("POST", "/v1/leases", "/v1/leases", admin_, ask, 201);
  ASSERT_EQ(lease.status, 201);
  ids_["leases"] = lease.body["id"];
  json too_many = ask;
  too_many["gpus"] = 100'000;
  call("POST", "/v1/leases", "/v1/leases", admin_, too_many, 422);
  json own_cluster = ask;
  own_cluster["pool"] = "cn-ulanqab-1-h800";
  call("POST", "/v1/leases/quote", "/v1/leases/quote", admin_, own_cluster, 422);
  call("GET", "/v1/leases", "/v1/leases?pool=sg-tuas-1-h100&state=active", admin_, nullptr, 200);
  call("GET", "/v1/leases/{id}", concrete("/v1/leases/{id}"), admin_, nullptr, 200);

  bodies["POST /v1/jobs"] = {{"org", "bellhollow"},
                             {"name", "train"},
                             {"team", "research"},
                             {"gpus", 8},
                             {"work", 100},
                             {"eligible_chips", {"h100-sxm"}},
                             {"model", "llm-7b"},
                             {"priority", 5},
                             {"checkpoint_interval", "PT1H"},
                             {"checkpoint_gb", 20},
                             {"datasets", {"bellhollow-web-crawl-2025"}},
                             {"purpose", "training"},
                             {"deadline", "2026-02-01T00:00:00Z"},
                             {"preferences",
                              {{"site_order", {"sg-tuas-1"}},
                               {"deny_sites", {"sg-jurong-1"}},
                               {"max_price_per_gpu_hour", "10 USD"}}},
                             {"command", {"python", "train.py"}},
                             {"time_limit", "PT10H"}};
  bodies["POST /v1/jobs/{id}/cancel"] = json::object();
  Answer job = call("POST", "/v1/jobs", "/v1/jobs", admin_, bodies["POST /v1/jobs"], 201);
  ASSERT_EQ(job.status, 201);
  ids_["jobs"] = job.body["id"];
  // A second one, on chips nobody leases to bellhollow: it waits.
  Answer waiting = call("POST", "/v1/jobs", "/v1/jobs", admin_,
                        {{"org", "bellhollow"},
                         {"gpus", 8},
                         {"work", 1},
                         {"command", "x.sh"},
                         {"eligible_chips", {"h20"}}},
                        201);
  call("GET", "/v1/jobs", "/v1/jobs?org=bellhollow&state=queued&limit=10", admin_, nullptr, 200);
  call("GET", "/v1/jobs/{id}", concrete("/v1/jobs/{id}"), admin_, nullptr, 200);
  call("POST", "/v1/schedule", "/v1/schedule", admin_, nullptr, 200);
  Answer placed = call("GET", "/v1/jobs/{id}", concrete("/v1/jobs/{id}"), admin_, nullptr, 200);
  EXPECT_NE(placed.body["placement"], nullptr) << placed.text;
  call("GET", "/v1/jobs/{id}", concrete("/v1/jobs/{id}", waiting.body["id"]) + "?explain=true",
       admin_, nullptr, 200);
  call("GET", "/v1/jobs", "/v1/jobs", admin_, nullptr, 200);
  // The console's read models (issue 18), with a job placed and one waiting.
  call("GET", "/v1/jobs", "/v1/jobs?sort=position&order=desc&offset=1&q=j-&chip=h100-sxm", admin_,
       nullptr, 200);
  call("GET", "/v1/fleet", "/v1/fleet", admin_, nullptr, 200);
  call("GET", "/v1/upcoming", "/v1/upcoming?days=365", admin_, nullptr, 200);
  call("GET", "/v1/rules/changes", "/v1/rules/changes?from=2026-01-01T00:00:00Z&days=730", admin_,
       nullptr, 200);
  call("GET", "/v1/audit/export", "/v1/audit/export?from_seq=2&to_seq=3", admin_, nullptr, 200);
  call("GET", "/v1/jobs/{id}/events", concrete("/v1/jobs/{id}/events"), admin_, nullptr, 200);
  call("GET", "/v1/jobs/{id}/events", concrete("/v1/jobs/{id}/events") + "?after=1", admin_,
       nullptr, 200);
  call("GET", "/v1/jobs/{id}/logs", concrete("/v1/jobs/{id}/logs") + "?tail=10", admin_, nullptr,
       200);

  // ---- A site agent of sg-tuas-1 (docs/agents.md) runs the placed job. ---
  const std::string job_id = ids_["jobs"];
  bodies["POST /v1/agents"] = {
      {"name", "sg-a"}, {"sites", {"sg-tuas-1"}}, {"backend", "local"}, {"version", "0.1.0"}};
  Answer agent = call("POST", "/v1/agents", "/v1/agents", admin_, bodies["POST /v1/agents"], 201);
  ASSERT_EQ(agent.status, 201);
  ids_["agents"] = agent.body["id"];
  EXPECT_EQ(
      call("POST", "/v1/agents", "/v1/agents", admin_, bodies["POST /v1/agents"], 200).body["id"],
      ids_["agents"]);  // the same agent again
  call("POST", "/v1/agents", "/v1/agents", admin_,
       {{"name", "nowhere"}, {"sites", {"sg-nowhere"}}, {"backend", "local"}}, 422);
  call("POST", "/v1/agents", "/v1/agents", admin_,
       {{"name", "two-operators"}, {"sites", {"sg-tuas-1", "jp-tokyo-1"}}, {"backend", "slurm"}},
       201);
  call("GET", "/v1/agents", "/v1/agents?state=active&limit=1", admin_, nullptr, 200);
  call("GET", "/v1/agents", "/v1/agents", admin_, nullptr, 200);
  call("GET", "/v1/agents/{id}", concrete("/v1/agents/{id}"), admin_, nullptr, 200);
  call("POST", "/v1/agents/{id}/heartbeat", concrete("/v1/agents/{id}/heartbeat"), admin_,
       json::object(), 200);
  Answer start = call("GET", "/v1/agents/{id}/assignments",
                      concrete("/v1/agents/{id}/assignments") + "?wait=0", admin_, nullptr, 200);
  ASSERT_EQ(start.body["assignments"].size(), 1u) << start.text;
  EXPECT_EQ(start.body["assignments"][0]["id"], job_id + "/1/start");
  call("GET", "/v1/agents/{id}/assignments", concrete("/v1/agents/{id}/assignments") + "?wait=61",
       admin_, nullptr, 400);
  bodies["POST /v1/agents/{id}/reports"] = {{"reports",
                                             {{{"job", job_id},
                                               {"attempt", 1},
                                               {"event", "started"},
                                               {"assignment", job_id + "/1/start"},
                                               {"handle", "4711"},
                                               {"at", "2026-01-01T00:00:00Z"}},
                                              {{"job", job_id},
                                               {"attempt", 1},
                                               {"event", "checkpoint"},
                                               {"path", "/ckpt/" + job_id + "/step-10"},
                                               {"note", "step=10"}}}}};
  Answer applied = call("POST", "/v1/agents/{id}/reports", concrete("/v1/agents/{id}/reports"),
                        admin_, bodies["POST /v1/agents/{id}/reports"], 200);
  EXPECT_EQ(applied.body["results"], json::parse(R"([{"applied": true}, {"applied": true}])"))
      << applied.text;
  applied = call("POST", "/v1/agents/{id}/reports", concrete("/v1/agents/{id}/reports"), admin_,
                 {{"reports",
                   {{{"job", job_id}, {"attempt", 1}, {"event", "log"}, {"text", "step 10\n"}},
                    {{"job", job_id}, {"attempt", 2}, {"event", "log"}, {"text", "x\n"}}}}},
                 200);
  EXPECT_EQ(applied.body["results"][1]["applied"], false) << applied.text;
  Answer running = call("GET", "/v1/jobs/{id}", concrete("/v1/jobs/{id}"), admin_, nullptr, 200);
  EXPECT_EQ(running.body["state"], "running") << running.text;
  EXPECT_EQ(running.body["run"]["checkpoint"]["note"], "step=10") << running.text;
  // A run the server does not expect there: a stop assignment, until the
  // heartbeat no longer lists it.
  call("POST", "/v1/agents/{id}/heartbeat", concrete("/v1/agents/{id}/heartbeat"), admin_,
       {{"runs",
         {{{"job", job_id}, {"attempt", 1}, {"state", "running"}},
          {{"job", waiting.body["id"]}, {"attempt", 1}, {"state", "pending"}}}}},
       200);
  Answer stop = call("GET", "/v1/agents/{id}/assignments", concrete("/v1/agents/{id}/assignments"),
                     admin_, nullptr, 200);
  ASSERT_EQ(stop.body["assignments"].size(), 1u) << stop.text;
  EXPECT_EQ(stop.body["assignments"][0]["kind"], "stop");
  bodies["POST /v1/agents/{id}/heartbeat"] = {
      {"runs", {{{"job", job_id}, {"attempt", 1}, {"state", "running"}}}}};
  call("POST", "/v1/agents/{id}/heartbeat", concrete("/v1/agents/{id}/heartbeat"), admin_,
       bodies["POST /v1/agents/{id}/heartbeat"], 200);
  // More items than max_items: 413.
  json runs = json::array(), reports = json::array();
  for (int i = 0; i < 1001; ++i) {
    runs.push_back({{"job", job_id}, {"attempt", 1}});
    reports.push_back({{"job", job_id}, {"attempt", 1}, {"event", "log"}, {"text", "x"}});
  }
  call("POST", "/v1/agents/{id}/heartbeat", concrete("/v1/agents/{id}/heartbeat"), admin_,
       {{"runs", runs}}, 413);
  call("POST", "/v1/agents/{id}/reports", concrete("/v1/agents/{id}/reports"), admin_,
       {{"reports", reports}}, 413);
  call("POST", "/v1/agents/{id}/reports", concrete("/v1/agents/{id}/reports"), admin_,
       {{"reports", {{{"job", job_id}, {"attempt", 1}, {"event", "exited"}}}}},
       400);  // no outcome

  bodies["POST /v1/decisions"] = {
      {"action", "lease"}, {"org", "bellhollow"}, {"pool", "sg-tuas-1-h100"}, {"gpus", 8}};
  call("POST", "/v1/decisions", "/v1/decisions", admin_, bodies["POST /v1/decisions"], 200);
  for (const json& d :
       {json{{"action", "run"},
             {"org", "hanshan-sg"},
             {"pool", "sg-jurong-1-h100"},
             {"at", "2026-06-01T00:00:00Z"},
             {"job",
              {{"gpus", 64},
               {"training_flops", 1e26},
               {"purpose", "training"},
               {"datasets", {"hanshan-user-dialogues"}}}}},
        json{{"action", "ship"},
             {"chip", "h20"},
             {"site", "cn-ulanqab-1"},
             {"by", "hanshan"},
             {"quantity", 1000}},
        json{{"action", "transfer"},
             {"dataset", "qingluan-app-user-profiles"},
             {"site", "sg-tuas-1"},
             {"by", "qingluan-sg"}},
        json{{"action", "lease"}, {"org", "hanshan"}, {"pool", "sg-jurong-1-h200"}}}) {
    call("POST", "/v1/decisions", "/v1/decisions", admin_, d, 200);
  }
  call("POST", "/v1/decisions", "/v1/decisions", admin_,
       {{"action", "lease"}, {"org", "nobody"}, {"pool", "sg-tuas-1-h100"}}, 422);

  Answer page = call("GET", "/v1/audit", "/v1/audit?limit=3", admin_, nullptr, 200);
  EXPECT_TRUE(page.body["next"].is_string()) << page.text.substr(0, 300);
  call("GET", "/v1/audit", "/v1/audit?after=2&limit=1000", admin_, nullptr, 200);
  call("GET", "/v1/audit/verify", "/v1/audit/verify", admin_, nullptr, 200);
  call("GET", "/v1/audit/public-key", "/v1/audit/public-key", admin_, nullptr, 200);
  call("GET", "/v1/audit/heads", "/v1/audit/heads?limit=2", admin_, nullptr, 200);
  call("GET", "/healthz", "/healthz", "", nullptr, 200);
  call("GET", "/metrics", "/metrics", admin_, nullptr, 200);
  call("GET", "/metrics", "/metrics", "", nullptr, 401);
  call("GET", "/v1/openapi.json", "/v1/openapi.json", "", nullptr, 200);

  // ---- One unknown field in every body: 400 naming it. -------------------
  int bad_bodies = 0;
  for (const std::string& route : Server::routes()) {
    const auto space = route.find(' ');
    const std::string method = route.substr(0, space), pattern = route.substr(space + 1);
    if (!takes_body(method, pattern)) continue;
    ++bad_bodies;
    Answer bad = call(method, pattern, concrete(pattern), admin_, {{"bogus_field", 1}}, 400);
    EXPECT_EQ(bad.body["error"]["field"], "bogus_field") << route << " -> " << bad.text;
    Answer not_json =
        server_.request(method, concrete(pattern), admin_, "{\"gpus\": 1,");  // cut short
    EXPECT_EQ(not_json.status, 400) << route << " -> " << not_json.text;
  }
  EXPECT_GE(bad_bodies, 6 * 3 + 8);
  // An unknown query parameter on every read: 400 naming it.
  for (const std::string& route : Server::routes()) {
    const auto space = route.find(' ');
    const std::string method = route.substr(0, space), pattern = route.substr(space + 1);
    if (method != "GET" || is_public(method, pattern)) continue;
    Answer bad = call(method, pattern, concrete(pattern) + "?bogus_param=1", admin_, nullptr, 400);
    EXPECT_EQ(bad.body["error"]["field"], "bogus_param") << route << " -> " << bad.text;
  }

  // ---- Every route as other roles, without a token, and on ids that do not
  // exist: whatever it answers is documented. None of these change anything
  // the admin's last steps need (the requests are refused, or idempotent).
  const std::string auditor = server_.make_user("audrey", "auditor");
  const std::string stranger = server_.make_user("taro", "engineer", "tsukimi");
  const std::string operator_admin = server_.make_user("leo", "operator-admin", "", "lionpoint");
  // An agent token of another site than the test's agent: it may register
  // (not here: the bodies name sg-tuas-1) and reaches nothing else.
  const std::string agent_token = server_.agent_token({"jp-tokyo-1"});
  for (const std::string& route : Server::routes()) {
    const auto space = route.find(' ');
    const std::string method = route.substr(0, space), pattern = route.substr(space + 1);
    const json body = bodies.count(route) ? bodies[route] : json(nullptr);
    call(method, pattern, concrete(pattern), "", body, is_public(method, pattern) ? 200 : 401,
         "nobody");
    if (is_public(method, pattern)) continue;
    for (const auto& [as, secret] :
         std::vector<std::pair<std::string, std::string>>{{"auditor", auditor},
                                                          {"engineer of tsukimi", stranger},
                                                          {"agent of jp-tokyo-1", agent_token}}) {
      Answer a = call(method, pattern, concrete(pattern), secret, body, 0, as);
      if (method != "GET") {
        // Decisions and what a rule set would change are questions, not changes.
        const bool question = route == "POST /v1/decisions" ||
                              route == "POST /v1/rulesets/{id}/diff" ||
                              route == "POST /v1/rulesets/{id}/impact";
        EXPECT_TRUE(a.status >= 400 || (question && as == "auditor")) << route << " as " << as;
      }
    }
    if (pattern.find("{id}") != std::string::npos) {
      call(method, pattern, concrete(pattern, "no-such-id"), admin_, body, 404);
    }
  }
  // The operator-admin of lionpoint may terminate leases on its pools; the
  // admin's terminate below then finds it terminated (idempotent).
  for (const std::string& route : Server::routes()) {
    const auto space = route.find(' ');
    const std::string method = route.substr(0, space), pattern = route.substr(space + 1);
    if (is_public(method, pattern)) continue;
    const json body = bodies.count(route) ? bodies[route] : json(nullptr);
    call(method, pattern, concrete(pattern), operator_admin, body, 0, "operator-admin");
  }
  // It acts as the agent of its operator's sites only.
  // Agent names are per operator: the admin's agent of two operators' sites
  // named so is not this one (a 409 would tell of it).
  call("POST", "/v1/agents", "/v1/agents", operator_admin,
       {{"name", "two-operators"}, {"sites", {"sg-tuas-1"}}, {"backend", "local"}}, 201,
       "operator-admin");
  call("POST", "/v1/agents", "/v1/agents", operator_admin,
       {{"name", "tokyo"}, {"sites", {"jp-tokyo-1"}}, {"backend", "local"}}, 403, "operator-admin");

  // ---- The admin ends what it made. --------------------------------------
  call("POST", "/v1/tokens/{id}/revoke", concrete("/v1/tokens/{id}/revoke"), admin_, nullptr, 200);
  call("POST", "/v1/tokens/{id}/revoke", concrete("/v1/tokens/{id}/revoke"), admin_, nullptr, 200);
  call("POST", "/v1/users/{id}/retire", concrete("/v1/users/{id}/retire"), admin_, nullptr, 200);
  call("POST", "/v1/users/{id}/tokens", concrete("/v1/users/{id}/tokens"), admin_, json::object(),
       409);  // retired
  // The lease was terminated (by the operator-admin): the next pass has the
  // running job checkpoint and leave, and its agent is told to.
  call("POST", "/v1/schedule", "/v1/schedule", admin_, nullptr, 200);
  Answer checkpoint = call("GET", "/v1/agents/{id}/assignments",
                           concrete("/v1/agents/{id}/assignments"), admin_, nullptr, 200);
  ASSERT_EQ(checkpoint.body["assignments"].size(), 1u) << checkpoint.text;
  EXPECT_EQ(checkpoint.body["assignments"][0]["kind"], "checkpoint");
  call("POST", "/v1/jobs/{id}/cancel", concrete("/v1/jobs/{id}/cancel"), admin_, json::object(),
       200);
  call("POST", "/v1/jobs/{id}/cancel", concrete("/v1/jobs/{id}/cancel"), admin_, nullptr, 409);
  // Cancelled while running: a cancel assignment, and the run's end reported.
  Answer cancel = call("GET", "/v1/agents/{id}/assignments",
                       concrete("/v1/agents/{id}/assignments"), admin_, nullptr, 200);
  ASSERT_EQ(cancel.body["assignments"].size(), 1u) << cancel.text;
  EXPECT_EQ(cancel.body["assignments"][0]["kind"], "cancel");
  call("POST", "/v1/agents/{id}/reports", concrete("/v1/agents/{id}/reports"), admin_,
       {{"reports",
         {{{"job", job_id}, {"attempt", 1}, {"event", "ack"}, {"assignment", job_id + "/1/cancel"}},
          {{"job", job_id},
           {"attempt", 1},
           {"event", "exited"},
           {"outcome", "cancelled"},
           {"exit_code", nullptr},
           {"signal", 15},
           {"detail", "stopped"},
           {"log_tail", "step 10\n"}}}}},
       200);
  Answer ended = call("GET", "/v1/jobs/{id}", concrete("/v1/jobs/{id}"), admin_, nullptr, 200);
  EXPECT_EQ(ended.body["run"]["result"]["signal"], 15) << ended.text;
  EXPECT_EQ(ended.body["run"]["active"], false) << ended.text;
  EXPECT_TRUE(call("GET", "/v1/agents/{id}/assignments", concrete("/v1/agents/{id}/assignments"),
                   admin_, nullptr, 200)
                  .body["assignments"]
                  .empty());
  call("POST", "/v1/leases/{id}/terminate", concrete("/v1/leases/{id}/terminate"), admin_, nullptr,
       200);
  // Retired in the order nothing in force refers to them.
  call("POST", "/v1/sites/{id}/retire", concrete("/v1/sites/{id}/retire"), admin_, nullptr,
       409);  // pool-x is on it
  for (const char* plural : {"datasets", "licences", "pools", "sites", "operators", "orgs"}) {
    const std::string pattern = std::string("/v1/") + plural + "/{id}/retire";
    call("POST", pattern, concrete(pattern), admin_, json::object(), 200);
  }
  call("PATCH", "/v1/pools/{id}", concrete("/v1/pools/{id}"), admin_, {{"notes", "late"}},
       409);  // retired
  call("POST", "/v1/rulesets/{id}/retire", concrete("/v1/rulesets/{id}/retire"), admin_, nullptr,
       200);
  call("POST", "/v1/rulesets/{id}/retire", concrete("/v1/rulesets/{id}/retire"), admin_, nullptr,
       409);  // retired already
  call("GET", "/v1/audit/verify", "/v1/audit/verify", admin_, nullptr, 200);

  // Every route answered a success at least once.
  std::vector<std::string> never;
  for (const std::string& route : Server::routes()) {
    if (!succeeded_.count(route)) never.push_back(route);
  }
  EXPECT_TRUE(never.empty()) << "routes never answered 2xx here:" << join(never);
  std::cout << "[ openapi  ] " << Server::routes().size() << " routes, " << checked_
            << " requests checked against the document\n";
}

}  // namespace
}  // namespace straits::api
