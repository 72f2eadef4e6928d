/* Appended by reports.sh to a copy of an HTML report and run by headless Chromium: it checks what
 * the page drew and how it reacts, and writes "PROBE <name> ok" or "PROBE <name> fail: why" into
 * the DOM that Chromium dumps. The report is of tests/integration/leaky.c in leak mode. */
(function () {
  const out = [];
  const say = (name, ok, why) => out.push("PROBE " + name + " " + (ok ? "ok" : "fail: " + why));
  const frames = () => [...document.querySelectorAll("#fg .fg-frame")];
  const named = n => frames().filter(f => f.dataset.name === n);
  const width = f => parseFloat(f.style.width);

  /* every frame of the leaks is drawn; the wide ones are labelled (narrow ones show their name on
   * hover and when zoomed, as in any flame graph) */
  const want = ["main", "load_config", "build_names", "make_buffer", "map_tiles"];
  const missing = want.filter(n => !named(n).length);
  const unlabelled = frames().filter(f => width(f) > 100 && !f.textContent.startsWith(f.dataset.name));
  say("frames", missing.length === 0 && unlabelled.length === 0 && named("map_tiles")[0].textContent === "map_tiles",
      "no frame drawn for " + missing.join(", ") + "; unlabelled: " + unlabelled.map(f => f.dataset.name).join(", "));

  const box = document.getElementById("fg").clientWidth;
  const before = named("build_names")[0];
  if (!before) {
    say("zoom", false, "no build_names frame");
  } else {
    const w0 = width(before);
    before.dispatchEvent(new MouseEvent("click", {bubbles: true}));
    const after = named("build_names")[0];
    const status = document.getElementById("fg-status").textContent;
    const label = after && after.textContent;
    const ok = after && label === "build_names" && width(after) > w0 * 10 && Math.abs(width(after) - box) <= 2 &&
               named("make_buffer").length === 1 && Math.abs(width(named("make_buffer")[0]) - box) <= 2 &&
               named("map_tiles").length === 0 && status.includes("zoomed to build_names");
    say("zoom", ok, "width " + w0 + " -> " + (after && width(after)) + " of " + box + ", status '" + status + "'");
    document.getElementById("fg-reset").click();
  }

  const search = document.getElementById("fg-search");
  search.value = "map_";
  search.dispatchEvent(new Event("input"));
  const matches = frames().filter(f => f.classList.contains("match")).map(f => f.dataset.name);
  say("search", matches.length === 1 && matches[0] === "map_tiles" &&
      document.getElementById("fg-status").textContent.includes("matched 128.0 KiB"),
      "matched " + JSON.stringify(matches) + ", status '" + document.getElementById("fg-status").textContent + "'");

  const table = document.getElementById("sites");
  const column = [...table.querySelectorAll("th")].findIndex(th => th.textContent.startsWith("function")) + 1;
  const firstFunction = () => table.querySelector("tbody tr td:nth-child(" + column + ")").textContent;
  const byBytes = firstFunction();
  [...table.querySelectorAll("th")].find(th => th.textContent.startsWith("blocks")).click();
  const byBlocks = firstFunction();
  say("sort", byBytes === "map_tiles" && byBlocks === "make_buffer",
      "first row by bytes " + byBytes + ", by blocks " + byBlocks);

  const fetched = performance.getEntriesByType("resource").map(e => e.name);
  say("network", fetched.length === 0, "fetched " + fetched.join(" "));

  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = out.join("\n");
  document.body.append(pre);
})();
