#include "svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace cli {
namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string label(double v) {
  char b[32];
  if (std::abs(v) >= 1e5) std::snprintf(b, sizeof b, "%.0e", v);
  else if (std::abs(v) >= 100 || v == std::floor(v)) std::snprintf(b, sizeof b, "%.0f", v);
  else std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                         "#7f7f7f", "#bcbd22"};

}  // namespace

std::string svg_line_plot(const PlotSpec& spec, const std::vector<PlotSeries>& series) {
  const double W = 760, H = 480, left = 70, right = 210, top = 40, bottom = 55;
  const double pw = W - left - right, ph = H - top - bottom;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto ty = [&](double y) { return spec.log_y ? std::log10(y) : y; };
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) {
      if (spec.log_y && !(y > 0)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, ty(y)), y1 = std::max(y1, ty(y));
    }
  if (!(x0 <= x1)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x0 == x1) x0 -= 1, x1 += 1;
  if (y0 == y1) y0 -= 1, y1 += 1;
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  auto px = [&](double x) {
    const double f = (x - x0) / (x1 - x0);
    return left + pw * (spec.reverse_x ? 1 - f : f);
  };
  auto py = [&](double y) { return top + ph * (1 - (ty(y) - y0) / (y1 - y0)); };

  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) +
                  "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(left + pw / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" + esc(spec.title) + "</text>\n";
  o += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
       "\" fill=\"none\" stroke=\"black\"/>\n";
  // x ticks: every integer when few, else about 10.
  const double xstep = std::max(1.0, std::ceil((x1 - x0) / 10));
  for (double x = std::ceil(x0); x <= x1 + 1e-9; x += xstep) {
    o += "<line x1=\"" + num(px(x)) + "\" y1=\"" + num(top + ph) + "\" x2=\"" + num(px(x)) + "\" y2=\"" + num(top + ph + 5) +
         "\" stroke=\"black\"/><text x=\"" + num(px(x)) + "\" y=\"" + num(top + ph + 18) + "\" text-anchor=\"middle\">" +
         label(x) + "</text>\n";
  }
  // y ticks: decades and their 2x, 5x on a log axis (decades only, or every
  // few decades, over a wide range); 6 steps on a linear one.
  std::vector<double> yt;
  if (spec.log_y) {
    const double decades = y1 - y0;
    const int every = decades > 12 ? 3 : decades > 6 ? 2 : 1;
    const std::vector<double> mantissas = decades > 3 ? std::vector<double>{1.0} : std::vector<double>{1.0, 2.0, 5.0};
    for (int e = static_cast<int>(std::floor(y0)); e <= static_cast<int>(std::ceil(y1)); ++e)
      for (double m : mantissas) {
        if (e % every != 0) continue;
        const double v = m * std::pow(10.0, e);
        if (std::log10(v) >= y0 && std::log10(v) <= y1) yt.push_back(v);
      }
    if (yt.size() < 3) {  // a narrow range: even steps inside it
      yt.clear();
      for (int i = 0; i <= 5; ++i) yt.push_back(std::pow(10.0, y0 + (y1 - y0) * i / 5));
    }
  } else {
    for (int i = 0; i <= 5; ++i) yt.push_back(y0 + (y1 - y0) * i / 5);
  }
  for (double v : yt)
    o += "<line x1=\"" + num(left) + "\" y1=\"" + num(py(v)) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(py(v)) +
         "\" stroke=\"#ddd\"/><text x=\"" + num(left - 6) + "\" y=\"" + num(py(v) + 4) + "\" text-anchor=\"end\">" + label(v) +
         "</text>\n";
  o += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(H - 12) + "\" text-anchor=\"middle\">" + esc(spec.x_label) + "</text>\n";
  o += "<text transform=\"translate(18," + num(top + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
       esc(spec.y_label + (spec.log_y ? " (log scale)" : "")) + "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    const std::string color = kColors[i % (sizeof kColors / sizeof *kColors)];
    std::string pts;
    for (const auto& [x, y] : s.points)
      if (!spec.log_y || y > 0) pts += num(px(x)) + "," + num(py(y)) + " ";
    o += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"" +
         (s.dashed ? " stroke-dasharray=\"6,4\"" : "") + " points=\"" + pts + "\"/>\n";
    if (!s.dashed)
      for (const auto& [x, y] : s.points)
        if (!spec.log_y || y > 0)
          o += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"3\" fill=\"" + color + "\"/>\n";
    const double ly = top + 10 + 18 * static_cast<double>(i);
    o += "<line x1=\"" + num(left + pw + 12) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(left + pw + 36) + "\" y2=\"" + num(ly) +
         "\" stroke=\"" + color + "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"6,4\"" : "") +
         "/><text x=\"" + num(left + pw + 42) + "\" y=\"" + num(ly + 4) + "\">" + esc(s.name) + "</text>\n";
  }
  return o + "</svg>\n";
}

}  // namespace cli
