// Progressive enhancement only: every page works without it.
// - htmx requests carry the session's CSRF token;
// - DSO trends drawn with uPlot from the JSON the page already holds in data-chart.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (e) {
    if (token) { e.detail.headers["X-CSRF-Token"] = token.content; }
  });
  function draw() {
    if (!window.uPlot) { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var d = JSON.parse(el.getAttribute("data-chart"));
      if (!d.months || !d.months.length) { return; }
      var xs = d.months.map(function (_, i) { return i; });
      new uPlot({
        width: Math.min(el.clientWidth || 600, 900), height: 220,
        scales: { x: { time: false } },
        axes: [{ values: function (u, ticks) { return ticks.map(function (t) { return d.months[t] || ""; }); } },
               { label: "days" }],
        series: [{}, { label: "countback", stroke: "#1f5fbf", width: 2 },
                 { label: "simple", stroke: "#9a6400", width: 2, dash: [6, 4] }]
      }, [xs, d.countback, d.simple], el);
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); }
  else { draw(); }
})();
