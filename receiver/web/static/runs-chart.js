// The run page's trend chart: the JSON in #trend-data drawn with the vendored Chart.js.
// A file of its own, not inline: the page's Content-Security-Policy allows scripts from this server only.
(function () {
  "use strict";
  var canvas = document.getElementById("trend-chart");
  var source = document.getElementById("trend-data");
  if (!canvas || !source || typeof Chart === "undefined") {
    return;
  }
  var trend = JSON.parse(source.textContent);
  var points = trend.points;
  var failed = function (p) { return p.outcome === "failed" || p.outcome === "errored"; };
  var colour = function (p) {
    if (p.current) { return "#0969da"; }
    return failed(p) ? "#cf222e" : "#1a7f37";
  };
  var chart = new Chart(canvas, {
    type: "line",
    data: {
      labels: points.map(function (p) { return p.label; }),
      datasets: [{
        label: trend.label,
        data: points.map(function (p) { return p.value; }),
        borderColor: "#8c959f",
        borderWidth: 1.5,
        pointBackgroundColor: points.map(colour),
        pointBorderColor: points.map(colour),
        pointRadius: points.map(function (p) { return p.current ? 8 : 3; }),
        pointHoverRadius: points.map(function (p) { return p.current ? 10 : 5; }),
        pointStyle: points.map(function (p) { return p.current ? "rectRot" : "circle"; })
      }]
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: true },
        tooltip: {
          callbacks: {
            afterLabel: function (item) {
              var p = points[item.dataIndex];
              return (p.outcome || "no outcome") + (p.current ? " (this run)" : "");
            }
          }
        }
      },
      onClick: function (_event, elements) {
        if (elements.length) {
          window.location.href = "/ui/runs/" + encodeURIComponent(points[elements[0].index].key);
        }
      }
    }
  });
  canvas.setAttribute("data-rendered", String(chart.data.datasets[0].data.length));
}());
