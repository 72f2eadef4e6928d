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

  /* a site row: its full stack, its source lines (the site's line marked), its handles */
  const detail = document.getElementById("detail");
  const mapRow = [...table.querySelectorAll("tbody tr")].find(tr => [...tr.children].some(td => td.textContent === "map_tiles"));
  if (!mapRow) {
    say("detail", false, "no map_tiles row");
  } else {
    mapRow.click();
    const stack = [...detail.querySelectorAll("#detail-stack li")].map(li => li.textContent);
    const here = detail.querySelector("#detail-source span.here");
    const handles = [...detail.querySelectorAll("#detail-handles li")].map(li => li.textContent);
    say("detail", getComputedStyle(detail).display !== "none" && stack.length >= 2 &&
        stack[0].startsWith("map_tiles  tests/integration/leaky.c:") && stack.some(f => f.startsWith("main ")) &&
        detail.querySelector("#detail-stack li.site").textContent.startsWith("map_tiles") &&
        here && here.textContent.includes("LEAK(mmap)") && handles.join() === "none",
        "stack " + JSON.stringify(stack) + ", marked source line " + (here && here.textContent) + ", handles " + handles);
  }
  /* a flame-graph frame: the same panel, for that site */
  const helper = named("make_buffer")[0];
  if (!helper) {
    say("frame-detail", false, "no make_buffer frame");
  } else {
    helper.dispatchEvent(new MouseEvent("click", {bubbles: true}));
    const here = detail.querySelector("#detail-source span.here");
    say("frame-detail", detail.dataset.site === "make_buffer" && here && here.textContent.includes("LEAK(helper)") &&
        detail.querySelector("#detail-stack li.site").textContent.startsWith("make_buffer"),
        "panel for '" + detail.dataset.site + "', marked line " + (here && here.textContent));
    document.getElementById("fg-reset").click();
  }

  /* call trees: top-down starts at main (all of it) and opens to its callees; bottom-up starts at
   * the allocating functions and opens to their callers */
  const rows = id => [...document.querySelectorAll("#" + id + " > .node")];
  const down = rows("tree-down"), up = rows("tree-up");
  const mainRow = down.find(r => r.dataset.name === "main");
  let downOk = down.length === 1 && mainRow && mainRow.textContent.includes("100.0%");
  let callees = [];
  if (mainRow) {
    mainRow.click();
    callees = [...mainRow.nextElementSibling.querySelectorAll(":scope > .node")].map(r => r.dataset.name);
    downOk = downOk && !mainRow.nextElementSibling.hidden && ["map_tiles", "load_config", "build_names"].every(n => callees.includes(n));
  }
  say("tree-down", downOk, "top rows " + down.map(r => r.dataset.name) + ", callees of main " + callees);
  const tiles = up.find(r => r.dataset.name === "map_tiles");
  let callers = [];
  if (tiles) {
    tiles.click();
    callers = [...tiles.nextElementSibling.querySelectorAll(":scope > .node")].map(r => r.dataset.name);
  }
  say("tree-up", tiles && tiles.textContent.includes("128.0 KiB") && up.some(r => r.dataset.name === "make_buffer") &&
      callers.join() === "main", "top rows " + up.map(r => r.dataset.name) + ", callers of map_tiles " + callers);

  /* where RSS went: one bar per process, its parts adding up to at most the whole */
  const bars = [...document.querySelectorAll("#memory .bar")];
  const widths = bars.map(b => [...b.children].reduce((sum, d) => sum + parseFloat(d.style.width || 0), 0));
  say("rss", bars.length === DATA.processes.length && bars.length > 0 && bars.every(b => b.children.length === 5) && /* heap, allocator, mappings, imgleak, rest */
      widths.every(w => w > 0 && w <= 100.5), bars.length + " bars, widths " + widths);

  /* a single snapshot per process: no growth section */
  say("no-growth", document.getElementById("growth-section").hidden && DATA.growth === null, "growth section shown");

  const fetched = performance.getEntriesByType("resource").map(e => e.name);
  say("network", fetched.length === 0, "fetched " + fetched.join(" "));

  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = out.join("\n");
  document.body.append(pre);
})();
