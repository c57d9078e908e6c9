package exporter

import (
	"bufio"
	"encoding/json"
	"html"
	"io"
	"strings"
)

// WriteHTML writes the summary as one self-contained HTML page: inline CSS,
// an inline script that draws the charts as SVG, and the summary itself as
// JSON in <script type="application/json" id="data"> (the same object
// WriteJSON writes). The page loads nothing from the network (its
// Content-Security-Policy forbids it). It shows the totals, a treemap of
// memory by key prefix, charts by type and by expiry, the databases and
// the biggest keys.
//
// title (the file name, say) is escaped; keys are put into the page as
// text by the script, never as markup, and a key that is not valid UTF-8
// is shown with \xNN escapes. The JSON is escaped for a script element:
// '<', '>' and '&' as \u003c, \u003e, \u0026.
func (s *MemorySummary) WriteHTML(w io.Writer, title string) error {
	data, err := json.Marshal(s) // escapes <, > and & (and U+2028, U+2029)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	head, tail, _ := strings.Cut(htmlPage, "{{DATA}}")
	head = strings.ReplaceAll(head, "{{TITLE}}", html.EscapeString(title))
	bw.WriteString(head)
	bw.Write(data)
	bw.WriteString(tail)
	return bw.Flush()
}

const htmlPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rdbkit memory: {{TITLE}}</title>
<style>
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d232b; background: #f6f7f9; }
header { background: #1d2b3a; color: #fff; padding: 14px 24px; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; }
header .model { color: #b8c4d0; font-size: 12px; margin-top: 4px; }
main { padding: 16px 24px 40px; max-width: 1280px; }
section { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; padding: 12px 16px; margin: 0 0 16px; }
h2 { font-size: 15px; margin: 0 0 10px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; padding: 10px 16px; min-width: 170px; }
.card .v { font-size: 22px; font-weight: 600; }
.card .l { color: #5b6875; font-size: 12px; }
.card .x { color: #5b6875; font-size: 12px; }
.row { display: flex; flex-wrap: wrap; gap: 16px; }
.row > section { flex: 1 1 400px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eef0f3; vertical-align: top; }
th { color: #5b6875; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.k { font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
svg text { font-size: 11px; fill: #1d232b; }
svg .tm text { fill: #fff; pointer-events: none; }
#treemap rect { stroke: #fff; stroke-width: 1; }
.note { color: #5b6875; font-size: 12px; }
#errors { color: #b00020; white-space: pre-wrap; }
</style>
</head>
<body>
<header><h1>rdbkit memory report: {{TITLE}}</h1><div class="model" id="model"></div></header>
<main>
<div class="cards" id="cards"></div>
<section><h2>Memory by key prefix</h2><div id="treemap"></div><p class="note" id="treemap-note"></p></section>
<div class="row">
<section><h2>By type</h2><div id="types"></div></section>
<section><h2>By expiry</h2><div id="expiry"></div></section>
</div>
<div class="row">
<section><h2>By database</h2><table id="dbs"></table></section>
<section><h2>By encoding</h2><table id="encodings"></table></section>
</div>
<section><h2>Biggest keys by memory</h2><table id="top-bytes"></table></section>
<section><h2>Biggest keys by elements</h2><table id="top-elements"></table></section>
<pre id="errors"></pre>
</main>
<script type="application/json" id="data">{{DATA}}</script>
<script>
"use strict";
(function () {
var errors = document.getElementById("errors");
window.addEventListener("error", function (ev) { errors.textContent += "error: " + ev.message + "\n"; });
var D = JSON.parse(document.getElementById("data").textContent);
var SVG = "http://www.w3.org/2000/svg";
var COLORS = ["#3b6ea8", "#d9822b", "#4a9a5b", "#b5453f", "#7d5ba6", "#2f8f8f", "#a0693a", "#c05c8e", "#6b7a8f", "#8a9a2b"];

function el(tag, attrs, text) {
  var e = document.createElement(tag);
  for (var k in attrs) { e.setAttribute(k, attrs[k]); }
  if (text !== undefined) { e.textContent = text; }
  return e;
}
function svg(tag, attrs, text) {
  var e = document.createElementNS(SVG, tag);
  for (var k in attrs) { e.setAttribute(k, attrs[k]); }
  if (text !== undefined) { e.textContent = text; }
  return e;
}
// keyText shows a lossless JSON byte string: a string as is, or
// {"base64": ...} as a quoted string with \xNN escapes.
function keyText(k) {
  if (typeof k === "string") { return k; }
  var b = atob(k.base64), s = "\"";
  for (var i = 0; i < b.length; i++) {
    var c = b.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) { s += b[i]; }
    else { s += "\\x" + (c < 16 ? "0" : "") + c.toString(16); }
  }
  return s + "\"";
}
function human(n) {
  if (n < 1024) { return n + " B"; }
  var u = "KMGTPE", f = n / 1024, i = 0;
  while (f >= 1024 && i < u.length - 1) { f /= 1024; i++; }
  return f.toFixed(1) + " " + u[i] + "iB";
}
function share(n) { return D.bytes ? (100 * n / D.bytes).toFixed(1) + "%" : "0.0%"; }
function table(id, head, rows) {
  var t = document.getElementById(id), tr = el("tr");
  head.forEach(function (h) { tr.appendChild(el("th", h[1] ? {"class": "n"} : {}, h[0])); });
  t.appendChild(tr);
  rows.forEach(function (r) {
    var tr = el("tr");
    r.forEach(function (c) { tr.appendChild(el("td", c[1] ? {"class": c[1], "data-f": c[2] || ""} : {"data-f": c[2] || ""}, String(c[0]))); });
    t.appendChild(tr);
  });
}

document.getElementById("model").textContent = "Estimates as MEMORY USAGE key SAMPLES 0 would report them, modelling " +
  D.model.server + " (jemalloc quantum " + D.model.quantum + ", " + (D.model.loaded ? "as loaded" : "as written") + ")";
var cards = document.getElementById("cards");
[["sum-keys", D.keys, "keys", ""], ["sum-bytes", D.bytes, "bytes (" + human(D.bytes) + ")", ""],
 ["sum-elements", D.elements, "elements", ""], ["sum-overhead", D.keyspace_overhead, "bytes of keyspace overhead", "buckets and expires, not in MEMORY USAGE"]]
  .forEach(function (c) {
    var d = el("div", {"class": "card"});
    d.appendChild(el("div", {"class": "v", "id": c[0]}, String(c[1])));
    d.appendChild(el("div", {"class": "l"}, c[2]));
    if (c[3]) { d.appendChild(el("div", {"class": "x"}, c[3])); }
    cards.appendChild(d);
  });

// Bar chart of groups by bytes, with keys.
function bars(id, groups) {
  var W = 560, H = 22, max = 1;
  groups.forEach(function (g) { if (g.bytes > max) { max = g.bytes; } });
  var s = svg("svg", {width: "100%", viewBox: "0 0 " + W + " " + (groups.length * H + 4), role: "img"});
  groups.forEach(function (g, i) {
    var y = i * H + 2, w = Math.max(1, (W - 250) * g.bytes / max);
    var gr = svg("g", {"data-name": g.name, "data-bytes": g.bytes, "data-keys": g.keys});
    gr.appendChild(svg("title", {}, g.name + ": " + g.keys + " keys, " + g.bytes + " bytes"));
    gr.appendChild(svg("text", {x: 0, y: y + 14}, g.name));
    gr.appendChild(svg("rect", {x: 60, y: y + 3, width: w, height: H - 8, fill: COLORS[i % COLORS.length]}));
    gr.appendChild(svg("text", {x: 66 + w, y: y + 14}, human(g.bytes) + " \u00b7 " + g.keys + " keys"));
    s.appendChild(gr);
  });
  document.getElementById(id).appendChild(s);
}
bars("types", D.types);
bars("expiry", D.expiry);

table("dbs", [["db"], ["keys", 1], ["bytes", 1], ["", 1], ["volatile", 1], ["overhead", 1]],
  D.dbs.map(function (d) { return [[d.db, "n"], [d.keys, "n"], [d.bytes, "n", "bytes"], [human(d.bytes), "n"], [d.volatile, "n"], [d.overhead, "n"]]; }));
table("encodings", [["encoding"], ["keys", 1], ["bytes", 1], ["share", 1]],
  D.encodings.map(function (g) { return [[g.name], [g.keys, "n"], [g.bytes, "n", "bytes"], [share(g.bytes), "n"]]; }));
function keys(id, ks) {
  table(id, [["bytes", 1], ["", 1], ["elements", 1], ["type"], ["encoding"], ["db", 1], ["key"]],
    ks.map(function (k) {
      return [[k.bytes, "n", "bytes"], [human(k.bytes), "n"], [k.elements, "n", "elements"], [k.type], [k.encoding], [k.db, "n"], [keyText(k.key), "k", "key"]];
    }));
}
keys("top-bytes", D.top_by_bytes);
keys("top-elements", D.top_by_elements);

// Squarified treemap of the prefix tree: top-level prefixes, each split
// into its children. See Bruls, Huizing and van Wijk, "Squarified Treemaps".
function squarify(items, x, y, w, h) {
  var out = [], rest = items.slice(), total = 0;
  rest.forEach(function (it) { total += it.v; });
  if (total <= 0) { return out; }
  var scale = w * h / total;
  while (rest.length) {
    var side = Math.min(w, h), row = [], sum = 0, worst = Infinity;
    while (rest.length) {
      var v = rest[0].v * scale, s2 = sum + v;
      var mx = Math.max(v, row.length ? row[0].a : v), mn = Math.min(v, row.length ? row[row.length - 1].a : v);
      var wr = Math.max(side * side * mx / (s2 * s2), (s2 * s2) / (side * side * mn));
      if (row.length && wr > worst) { break; }
      worst = wr; sum = s2; row.push({it: rest.shift(), a: v});
    }
    var thick = sum / side, off = 0;
    row.forEach(function (r) {
      var len = r.a / thick;
      if (w >= h) { out.push({it: r.it, x: x, y: y + off, w: thick, h: len}); }
      else { out.push({it: r.it, x: x + off, y: y, w: len, h: thick}); }
      off += len;
    });
    if (w >= h) { x += thick; w -= thick; } else { y += thick; h -= thick; }
  }
  return out;
}
function label(p) { return p.other ? keyText(p.prefix) + "(other)" : keyText(p.prefix) + "*"; }
(function () {
  var W = 1200, H = 480, root = D.prefixes, kids = (root.children || []).slice();
  var inKids = 0;
  kids.forEach(function (c) { inKids += c.bytes; });
  var items = kids.map(function (c) { return {v: c.bytes, p: c}; });
  if (root.bytes - inKids > 0) { items.push({v: root.bytes - inKids, p: null}); }
  items.sort(function (a, b) { return b.v - a.v; });
  var s = svg("svg", {width: "100%", viewBox: "0 0 " + W + " " + H, role: "img", "class": "tm"});
  squarify(items.filter(function (i) { return i.v > 0; }), 0, 0, W, H).forEach(function (r, i) {
    var color = COLORS[i % COLORS.length], p = r.it.p;
    var name = p ? label(p) : "keys without a prefix";
    var g = svg("g", {"data-prefix": name, "data-bytes": r.it.v});
    g.appendChild(svg("title", {}, name + ": " + r.it.v + " bytes (" + share(r.it.v) + ")" + (p ? ", " + p.keys + " keys" : "")));
    g.appendChild(svg("rect", {x: r.x, y: r.y, width: Math.max(0, r.w), height: Math.max(0, r.h), fill: color}));
    var sub = p && p.children ? p.children.map(function (c) { return {v: c.bytes, p: c}; }) : [];
    var inSub = 0;
    sub.forEach(function (c) { inSub += c.v; });
    if (sub.length && r.w > 40 && r.h > 40) {
      if (p.bytes - inSub > 0) { sub.push({v: p.bytes - inSub, p: null}); }
      squarify(sub.filter(function (i) { return i.v > 0; }), r.x + 2, r.y + 18, r.w - 4, r.h - 20).forEach(function (q) {
        var n = q.it.p ? label(q.it.p) : label(p).replace(/\*$/, "") + " (no longer prefix)";
        var sg = svg("g", {});
        sg.appendChild(svg("title", {}, n + ": " + q.it.v + " bytes (" + share(q.it.v) + ")"));
        sg.appendChild(svg("rect", {x: q.x, y: q.y, width: Math.max(0, q.w), height: Math.max(0, q.h), fill: color, "fill-opacity": 0.55}));
        if (q.w > 70 && q.h > 14) { sg.appendChild(svg("text", {x: q.x + 3, y: q.y + 12}, n.length > q.w / 7 ? n.slice(0, Math.floor(q.w / 7)) + "\u2026" : n)); }
        g.appendChild(sg);
      });
    }
    if (r.w > 50 && r.h > 14) {
      var t = name + " " + human(r.it.v);
      g.appendChild(svg("text", {x: r.x + 4, y: r.y + 13, "font-weight": "600"}, t.length > r.w / 7 ? t.slice(0, Math.floor(r.w / 7)) + "\u2026" : t));
    }
    s.appendChild(g);
  });
  document.getElementById("treemap").appendChild(s);
  document.getElementById("treemap-note").textContent = "Keys split on " + JSON.stringify(D.separator) +
    " up to depth " + D.prefix_depth + "; the area is memory. Hover for numbers." +
    (D.prefixes_folded ? " " + D.prefixes_folded + " small prefixes were folded into (other) while counting." : "");
})();
document.body.setAttribute("data-rendered", "ok");
})();
</script>
</body>
</html>
`
