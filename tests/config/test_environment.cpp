#include "config/environment.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

using namespace stompede::config;

TEST_CASE("${VAR} and ${VAR:-default} expand from the given map", "[config][env]") {
  env_map env{{"HOST", "127.0.0.1"}, {"EMPTY", ""}};
  std::string out, why;
  REQUIRE(expand_variables("ws://${HOST}:${PORT:-8080}/ws", env, out, why));
  CHECK(out == "ws://127.0.0.1:8080/ws");
  REQUIRE(expand_variables("${EMPTY:-fallback}", env, out, why));
  CHECK(out == "fallback");
  REQUIRE(expand_variables("$${HOST} costs $5", env, out, why));
  CHECK(out == "${HOST} costs $5");
}

TEST_CASE("a missing variable without default is an error", "[config][env]") {
  std::string out, why;
  CHECK_FALSE(expand_variables("${NOPE}", {}, out, why));
  CHECK_THAT(why, Catch::Contains("NOPE is not set"));
  CHECK_FALSE(expand_variables("${OPEN", {}, out, why));
  CHECK_THAT(why, Catch::Contains("unclosed"));
}

TEST_CASE(".env files are read and the real environment wins", "[config][env]") {
  const std::string path = "test_config_dotenv.env";
  {
    std::ofstream f{path};
    f << "# comment\nexport A=1\nB = \"two words\"\nC=3 # trailing\nnot a line\n";
  }
  std::vector<diagnostic> problems;
  auto file = read_dotenv(path, problems);
  std::remove(path.c_str());
  CHECK(file["A"] == "1");
  CHECK(file["B"] == "two words");
  CHECK(file["C"] == "3");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].line == 5);
  auto merged = merge_env({{"A", "real"}}, file);
  CHECK(merged["A"] == "real");
  CHECK(merged["B"] == "two words");
}

TEST_CASE("a missing .env file is no problem", "[config][env]") {
  std::vector<diagnostic> problems;
  CHECK(read_dotenv("/nonexistent/.env", problems).empty());
  CHECK(problems.empty());
}
