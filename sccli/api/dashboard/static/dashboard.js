// sccli dashboard: what htmx does not do — "select every job on this page", keeping a log tail
// scrolled to its newest line when it is refreshed, and saying when a refresh failed.
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
  function pollFailed(failed) {
    var note = document.getElementById("poll-error");
    if (note) note.hidden = !failed;
  }
  document.addEventListener("htmx:responseError", function () { pollFailed(true); });
  document.addEventListener("htmx:sendError", function () { pollFailed(true); });
  document.addEventListener("htmx:afterSwap", function () { pollFailed(false); });
})();
