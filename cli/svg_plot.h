// A line plot as a standalone SVG document: numeric x, a linear or log10 y,
// one polyline with markers per series (dashed for reference lines), axes
// with ticks and a legend. Enough for axe sweep's perplexity-vs-bits view.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace cli {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), y > 0 for a log axis
  bool dashed = false;
};

struct PlotSpec {
  std::string title, x_label, y_label;
  bool log_y = false;
  bool reverse_x = false;  // e.g. accumulator bits, wide to narrow
};

std::string svg_line_plot(const PlotSpec& spec, const std::vector<PlotSeries>& series);

}  // namespace cli
