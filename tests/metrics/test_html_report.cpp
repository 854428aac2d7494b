#include "metrics/html_report.hpp"
#include "metrics/summary_json.hpp"

#include <catch2/catch.hpp>

#include "report_fixture.hpp"

using namespace stompede::metrics;

TEST_CASE("report.html: one offline page with data, tables and the scenario") {
  html_report_input in;
  in.total = test::sample_total();
  in.run = test::sample_run();
  stage_report st;
  st.name = "warm-up</script><b>";
  st.end_s = 30;
  in.stages.push_back(st);
  timeseries_row row;
  row.elapsed_s = 1.0;
  row.connected = 7;
  row.errors[static_cast<std::size_t>(error_type::closed_by_peer)] = 2;
  row.events = "target=50";
  in.rows = {row, row};
  in.scenario_toml = "[auth]\npassword = \"***\"\n";
  auto r = parse_threshold("lost == 0");
  in.thresholds.push_back(evaluate(std::get<threshold>(r), in.total, 60.0));
  in.server.push_back({"server cpu", "%", {{1.0, 12.5}, {2.0, 14.0}}});
  auto page = html_report_text(in);
  // No network at view time: no external reference of any kind (the SVG namespace is a name).
  auto refs = page;
  for (auto at = refs.find("http://www.w3.org/2000/svg"); at != std::string::npos;
       at = refs.find("http://www.w3.org/2000/svg"))
    refs.erase(at, 26);
  CHECK(refs.find("http://") == std::string::npos);
  CHECK(refs.find("https://") == std::string::npos);
  CHECK(page.find("src=") == std::string::npos);
  // Names cannot close the data script or inject markup.
  CHECK(page.find("warm-up</script>") == std::string::npos);
  CHECK(page.find("warm-up&lt;/script&gt;&lt;b&gt;") != std::string::npos);
  CHECK(page.find("id=\"report-data\"") != std::string::npos);
  CHECK(page.find("\"closed_by_peer\"") != std::string::npos);
  CHECK(page.find("target=50") != std::string::npos);
  CHECK(page.find("server cpu") != std::string::npos);
  CHECK(page.find("FAILED") != std::string::npos);
  CHECK(page.find("<code>lost == 0</code>") != std::string::npos);
  CHECK(page.find("password = &quot;***&quot;") != std::string::npos);
  CHECK(page.find("connect_refused") != std::string::npos); // errors table
  // The summary has every line of the stdout table above the stages (errors by type have
  // their own table).
  for (const auto& r : summary_rows(in.total, in.run))
    if (!r.error_detail)
      CHECK(page.find("<tr><th>" + html_escape(r.label) + "</th><td>" + html_escape(r.value) +
                      "</td></tr>") != std::string::npos);
  CHECK(page.find("<th>latency mode</th>") != std::string::npos);
  CHECK(page.find("<th>  delivered to all / to some</th>") != std::string::npos);
}

TEST_CASE("report.html: html_escape") {
  CHECK(html_escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#39;");
}
