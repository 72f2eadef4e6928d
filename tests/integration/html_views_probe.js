/* Appended by reports.sh to copies of other HTML reports, as html_probe.js is: the growth chart
 * of a series of snapshots of workloads/wl_service (make_thumbnail leaks on every request, the
 * warm-up cache fills once), the misuse table of tests/integration/jpeg_misuse.c, and the inputs
 * table of workloads/wl_inputs.c (inputs.sh). Writes
 * "PROBE <name> ok|fail: why" into the DOM. */
(function () {
  const out = [];
  const say = (name, ok, why) => out.push("PROBE " + name + " " + (ok ? "ok" : "fail: " + why));
  if (DATA.growth) {
    const section = document.getElementById("growth-section");
    const lines = [...section.querySelectorAll("svg polyline.series")];
    const suspects = lines.filter(l => l.classList.contains("suspect")).map(l => l.dataset.name);
    const points = l => l.getAttribute("points").trim().split(/\s+/).map(p => p.split(",").map(Number));
    const thumb = lines.find(l => l.dataset.name === "make_thumbnail");
    /* the suspect's line rises left to right: SVG y grows downwards */
    const rises = thumb && (p => p.length >= 3 && p[p.length - 1][1] < p[0][1] && p[p.length - 1][0] > p[0][0])(points(thumb));
    const mark = [...section.querySelectorAll("svg text.suspect-mark")].map(t => t.textContent);
    say("growth-chart", !section.hidden && lines.length >= 2 && suspects.join() === "make_thumbnail" && rises &&
        mark.join() === "SUSPECT make_thumbnail" && lines.some(l => l.dataset.name === "warm_cache" && !l.classList.contains("suspect")),
        lines.length + " lines, suspects " + suspects + ", rises " + rises + ", marks " + mark);
    const table = document.getElementById("growth-table");
    const rows = [...table.querySelectorAll("tbody tr")].map(tr => [...tr.children].map(td => td.textContent));
    const fnCol = [...table.querySelectorAll("th")].findIndex(th => th.textContent === "function");
    say("growth-table", rows.length >= 2 && rows[0][0] === "SUSPECT" && rows[0][fnCol] === "make_thumbnail" &&
        rows.filter(r => r[0] === "SUSPECT").length === 1, "rows " + JSON.stringify(rows.slice(0, 3)));
  }
  if (DATA.misuse.length) {
    const rows = [...document.querySelectorAll("#misuse tbody tr")].map(tr => tr.textContent);
    /* destroying a jpeg struct twice is documented as safe, and so no misuse */
    const want = ["destroy wrong type"];
    say("misuse", want.every(w => rows.some(r => r.includes(w) && r.includes("jpeg_misuse.c"))),
        "rows " + JSON.stringify(rows));
  }
  if (DATA.inputs && DATA.inputs.length) { /* inputs.sh: the inputs workload, by memory buffer */
    const rows = [...document.querySelectorAll("#inputs tbody tr")].map(tr => tr.textContent);
    const want = ["anim_07.gif", "icon_03.png", "photo_05.jpg"];
    const summary = document.getElementById("inputs-summary").textContent;
    say("inputs", rows.length === 3 && want.every(w => rows.some(r => r.includes(w) && r.includes("load_"))) &&
        summary === "3 of 24 inputs leaked", "rows " + JSON.stringify(rows) + ", summary " + summary);
  }
  const fetched = performance.getEntriesByType("resource").map(e => e.name);
  say("network", fetched.length === 0, "fetched " + fetched.join(" "));
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = out.join("\n");
  document.body.append(pre);
})();
