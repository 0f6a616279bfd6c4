#include "tune/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace batchwise {
namespace {

constexpr double kWidth = 860, kHeight = 500;
constexpr double kLeft = 90, kRight = 90, kTop = 60, kBottom = 70;

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// A round upper bound for an axis: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten.
double nice_ceiling(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

std::string text(double x, double y, const std::string& s, const char* anchor = "middle", const char* extra = "") {
  return "<text x=\"" + fmt("%.1f", x) + "\" y=\"" + fmt("%.1f", y) + "\" text-anchor=\"" + anchor + "\" " + extra + ">" +
         escape(s) + "</text>\n";
}

// A label's box, from an estimate of its width (13 px sans-serif: ~7.3 px a character, bold ~8): enough to keep
// labels apart, which is all it is used for.
struct Box {
  double x0, y0, x1, y1;
  bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
  bool inside(const Box& o) const { return x0 >= o.x0 && x1 <= o.x1 && y0 >= o.y0 && y1 <= o.y1; }
};

Box text_box(double x, double y, const std::string& s, const std::string& anchor, bool bold) {
  const double w = static_cast<double>(s.size()) * (bold ? 8.0 : 7.3);
  const double x0 = anchor == "start" ? x : anchor == "end" ? x - w : x - w / 2;
  return {x0, y - 13, x0 + w, y + 3};
}

// Where a label goes: the first candidate (x, y, anchor) inside the plot that meets none of `taken`; the first
// candidate if every one does.
struct Placed {
  double x, y;
  std::string anchor;
  Box box;
};
Placed place(const std::string& s, bool bold, const std::vector<Placed>& candidates, const Box& plot,
             const std::vector<Box>& taken) {
  for (const Placed& c : candidates) {
    const Box b = text_box(c.x, c.y, s, c.anchor, bold);
    if (b.inside(plot) && std::none_of(taken.begin(), taken.end(), [&](const Box& t) { return t.overlaps(b); })) {
      return {c.x, c.y, c.anchor, b};
    }
  }
  const Placed& c = candidates.front();
  return {c.x, c.y, c.anchor, text_box(c.x, c.y, s, c.anchor, bold)};
}

}  // namespace

std::string tune_plot_svg(const std::vector<Trial>& trials, const Choice& choice, const PlotLabels& labels) {
  // One point per knob: the best lanes count there.
  std::map<int64_t, const Trial*> best;
  std::vector<int64_t> infeasible;
  int64_t max_knob = 1;
  double max_rate = 0, max_p95 = 0;
  for (const auto& t : trials) {
    max_knob = std::max(max_knob, t.knob);
    if (!t.feasible()) {
      infeasible.push_back(t.knob);
      continue;
    }
    auto& b = best[t.knob];
    if (!b || t.items_per_s > b->items_per_s) b = &t;
    max_rate = std::max(max_rate, t.items_per_s);
    max_p95 = std::max(max_p95, t.total.p95_ms);
  }
  const double rate_top = nice_ceiling(max_rate * 1.1), p95_top = nice_ceiling(max_p95 * 1.1);
  const double x_top = std::max(1.0, std::ceil(std::log2(static_cast<double>(max_knob))));
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto x_of = [&](int64_t k) { return kLeft + plot_w * std::log2(static_cast<double>(std::max<int64_t>(1, k))) / x_top; };
  auto y_rate = [&](double v) { return kTop + plot_h * (1.0 - v / rate_top); };
  auto y_p95 = [&](double v) { return kTop + plot_h * (1.0 - v / p95_top); };

  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", kWidth) + "\" height=\"" +
                  fmt("%.0f", kHeight) + "\" viewBox=\"0 0 " + fmt("%.0f", kWidth) + " " + fmt("%.0f", kHeight) +
                  "\" font-family=\"sans-serif\" font-size=\"13\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  // A long command line would run off the image: keep its start and end.
  const std::string title =
      labels.title.size() <= 90 ? labels.title : labels.title.substr(0, 60) + " ... " + labels.title.substr(labels.title.size() - 25);
  s += text(kWidth / 2, 28, title, "middle", "font-size=\"15\" font-weight=\"bold\"");
  // Grid and axes.
  s += "<g stroke=\"#ddd\">\n";
  for (int i = 0; i <= 5; ++i) {
    const double y = kTop + plot_h * i / 5.0;
    s += "<line x1=\"" + fmt("%.1f", kLeft) + "\" y1=\"" + fmt("%.1f", y) + "\" x2=\"" + fmt("%.1f", kLeft + plot_w) +
         "\" y2=\"" + fmt("%.1f", y) + "\"/>\n";
  }
  s += "</g>\n";
  s += "<rect x=\"" + fmt("%.1f", kLeft) + "\" y=\"" + fmt("%.1f", kTop) + "\" width=\"" + fmt("%.1f", plot_w) +
       "\" height=\"" + fmt("%.1f", plot_h) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  for (int i = 0; i <= 5; ++i) {
    const double y = kTop + plot_h * i / 5.0;
    s += text(kLeft - 8, y + 4, fmt(rate_top < 10 ? "%.2f" : "%.0f", rate_top * (5 - i) / 5.0), "end", "fill=\"#1f77b4\"");
    s += text(kLeft + plot_w + 8, y + 4, fmt("%.0f", p95_top * (5 - i) / 5.0), "start", "fill=\"#d62728\"");
  }
  for (int e = 0; e <= static_cast<int>(x_top); ++e) {
    const auto k = int64_t{1} << e;
    s += text(x_of(k), kTop + plot_h + 20, std::to_string(k));
  }
  s += text(kLeft + plot_w / 2, kHeight - 22, labels.knob + " (log scale)");
  s += "<text transform=\"translate(24," + fmt("%.1f", kTop + plot_h / 2) + ") rotate(-90)\" text-anchor=\"middle\" fill=\"#1f77b4\">" +
       escape("throughput (" + labels.throughput_unit + ")") + "</text>\n";
  s += "<text transform=\"translate(" + fmt("%.1f", kWidth - 22) + "," + fmt("%.1f", kTop + plot_h / 2) +
       ") rotate(90)\" text-anchor=\"middle\" fill=\"#d62728\">p95 latency (ms)</text>\n";
  // The two curves.
  std::string rate_path, p95_path;
  for (const auto& [k, t] : best) {
    rate_path += (rate_path.empty() ? "M" : " L") + fmt("%.1f", x_of(k)) + "," + fmt("%.1f", y_rate(t->items_per_s));
    p95_path += (p95_path.empty() ? "M" : " L") + fmt("%.1f", x_of(k)) + "," + fmt("%.1f", y_p95(t->total.p95_ms));
  }
  s += "<path d=\"" + rate_path + "\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2.5\"/>\n";
  s += "<path d=\"" + p95_path + "\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n";
  for (const auto& [k, t] : best) {
    s += "<circle cx=\"" + fmt("%.1f", x_of(k)) + "\" cy=\"" + fmt("%.1f", y_rate(t->items_per_s)) + "\" r=\"4\" fill=\"#1f77b4\"/>\n";
    s += "<rect x=\"" + fmt("%.1f", x_of(k) - 3.5) + "\" y=\"" + fmt("%.1f", y_p95(t->total.p95_ms) - 3.5) +
         "\" width=\"7\" height=\"7\" fill=\"#d62728\"/>\n";
  }
  for (int64_t k : infeasible) {
    const double x = x_of(k), y = kTop + plot_h - 8;
    s += "<path d=\"M" + fmt("%.1f", x - 6) + "," + fmt("%.1f", y - 6) + " L" + fmt("%.1f", x + 6) + "," + fmt("%.1f", y + 6) +
         " M" + fmt("%.1f", x + 6) + "," + fmt("%.1f", y - 6) + " L" + fmt("%.1f", x - 6) + "," + fmt("%.1f", y + 6) +
         "\" stroke=\"#c00\" stroke-width=\"2.5\"/>\n";
  }
  // The knee and the choice, their labels kept off the legend, the markers and each other.
  const double lx = kLeft + 12, ly = kTop + 22;  // the legend, top left: a throughput curve rises away from it
  const double legend_h = infeasible.empty() ? 44 : 62;
  const Box plot{kLeft, kTop, kLeft + plot_w, kTop + plot_h};
  std::vector<Box> taken = {{lx - 6, ly - 14, lx + 224, ly - 14 + legend_h}};
  for (int64_t k : infeasible) taken.push_back({x_of(k) - 7, kTop + plot_h - 15, x_of(k) + 7, kTop + plot_h});
  if (choice.chosen) {
    const Trial& t = trials[*choice.chosen];
    const double x = x_of(t.knob), y = y_rate(t.items_per_s);
    taken.push_back({x - 12, y - 12, x + 12, y + 12});  // its ring
    s += "<circle cx=\"" + fmt("%.1f", x) + "\" cy=\"" + fmt("%.1f", y) + "\" r=\"10\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"3\"/>\n";
    const std::string label = "chosen: " + std::to_string(t.knob) + " (" +
                              fmt(t.items_per_s < 100 ? "%.3g" : "%.0f", t.items_per_s) + " " + labels.throughput_unit + ")";
    const Placed at = place(label, true,
                            {{x, y - 16, "middle", {}}, {x - 14, y - 16, "end", {}}, {x + 14, y - 16, "start", {}},
                             {x - 14, y + 5, "end", {}}, {x + 14, y + 5, "start", {}}, {x, y + 28, "middle", {}}},
                            plot, taken);
    s += text(at.x, at.y, label, at.anchor.c_str(), "fill=\"#2ca02c\" font-weight=\"bold\"");
    taken.push_back(at.box);
  }
  if (choice.knee) {
    const double x = x_of(trials[*choice.knee].knob);
    s += "<line x1=\"" + fmt("%.1f", x) + "\" y1=\"" + fmt("%.1f", kTop) + "\" x2=\"" + fmt("%.1f", x) + "\" y2=\"" +
         fmt("%.1f", kTop + plot_h) + "\" stroke=\"#888\" stroke-dasharray=\"3 3\"/>\n";
    const std::string label = "knee: " + std::to_string(trials[*choice.knee].knob);
    const double bottom = kTop + plot_h - 20;
    const Placed at = place(label, false,
                            {{x + 4, kTop + 16, "start", {}}, {x - 4, kTop + 16, "end", {}}, {x + 4, bottom, "start", {}},
                             {x - 4, bottom, "end", {}}, {x + 4, kTop + plot_h / 2, "start", {}}},
                            plot, taken);
    s += text(at.x, at.y, label, at.anchor.c_str(), "fill=\"#555\"");
  }
  // Legend.
  s += "<rect x=\"" + fmt("%.1f", lx - 6) + "\" y=\"" + fmt("%.1f", ly - 14) + "\" width=\"230\" height=\"" +
       fmt("%.0f", legend_h) + "\" fill=\"white\" stroke=\"#ccc\"/>\n";
  s += "<line x1=\"" + fmt("%.1f", lx) + "\" y1=\"" + fmt("%.1f", ly - 4) + "\" x2=\"" + fmt("%.1f", lx + 24) + "\" y2=\"" +
       fmt("%.1f", ly - 4) + "\" stroke=\"#1f77b4\" stroke-width=\"2.5\"/>\n";
  s += text(lx + 30, ly, "throughput", "start");
  s += "<line x1=\"" + fmt("%.1f", lx) + "\" y1=\"" + fmt("%.1f", ly + 14) + "\" x2=\"" + fmt("%.1f", lx + 24) + "\" y2=\"" +
       fmt("%.1f", ly + 14) + "\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n";
  s += text(lx + 30, ly + 18, "p95 latency", "start");
  if (!infeasible.empty()) s += text(lx + 30, ly + 36, "x  infeasible (out of memory / over limit)", "start", "fill=\"#c00\"");
  s += "</svg>\n";
  return s;
}

}  // namespace batchwise
