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

TEST_CASE(".env: a quoted value ends at its closing quote, a comment may follow", "[config][env]") {
  const std::string path = "test_config_dotenv_quotes.env";
  {
    std::ofstream f{path};
    f << "N=\"quoted\" # comment\n"
         "S='single' #c\n"
         "H=\"a # inside\"\n"
         "E=\"say \\\"hi\\\"\"\n"
         "U=plain #comment\n"
         "T=tab\t# comment\n"
         "K=a#b\n"
         "Z= # only a comment\n"
         "X=\"closed\" trailing\n"
         "O=\"open\n";
  }
  std::vector<diagnostic> problems;
  auto file = read_dotenv(path, problems);
  std::remove(path.c_str());
  CHECK(file["N"] == "quoted");
  CHECK(file["S"] == "single");
  CHECK(file["H"] == "a # inside");
  CHECK(file["E"] == "say \"hi\"");
  CHECK(file["U"] == "plain");
  CHECK(file["T"] == "tab");
  CHECK(file["K"] == "a#b");
  CHECK(file["Z"].empty());
  CHECK(file.count("X") == 0);
  CHECK(file.count("O") == 0);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].to_string() == path + ":9:12: X: expected nothing or a # comment after the "
                                          "closing quote");
  CHECK(problems[1].to_string() == path + ":10:3: O: the value opens a double quote but does "
                                          "not close it on this line");
}

TEST_CASE(".env: a leading UTF-8 byte order mark is skipped", "[config][env]") {
  const std::string path = "test_config_dotenv_bom.env";
  {
    std::ofstream f{path, std::ios::binary};
    f << "\xEF\xBB\xBFPORT=9000\r\nHOST=h\r\n";
  }
  std::vector<diagnostic> problems;
  auto file = read_dotenv(path, problems);
  std::remove(path.c_str());
  CHECK(problems.empty());
  CHECK(file["PORT"] == "9000");
  CHECK(file["HOST"] == "h");
}
