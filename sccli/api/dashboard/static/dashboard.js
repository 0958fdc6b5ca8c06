// sccli dashboard: the two things htmx does not do — "select every job on this page", and
// keeping a log tail scrolled to its newest line when it is refreshed.
(function () {
  "use strict";
  document.documentElement.classList.add("has-js");
  function scrollLogs() {
    document.querySelectorAll("pre.log").forEach(function (log) { log.scrollTop = log.scrollHeight; });
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.id !== "select-all") return;
    document.querySelectorAll("input.select-job").forEach(function (job) { job.checked = box.checked; });
  });
  document.addEventListener("DOMContentLoaded", scrollLogs);
  document.addEventListener("htmx:afterSettle", scrollLogs);
})();
