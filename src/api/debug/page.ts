/** The visualizer's one HTML page; everything else comes from /debug/app.js. */
export const DEBUG_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Fleetwork · actors</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; display: grid; grid-template-columns: 360px 1fr; height: 100vh; }
  aside { border-right: 1px solid #ddd; display: flex; flex-direction: column; min-height: 0; }
  aside form { padding: 8px; display: grid; gap: 6px; border-bottom: 1px solid #ddd; }
  #actors { overflow: auto; flex: 1; margin: 0; padding: 0; list-style: none; }
  #actors li { padding: 4px 8px; cursor: pointer; display: flex; justify-content: space-between; border-bottom: 1px solid #f0f0f0; }
  #actors li.selected { background: #e8f0fe; }
  #actors .state { color: #555; font-family: monospace; }
  #pager { padding: 6px 8px; border-top: 1px solid #ddd; display: flex; gap: 6px; align-items: center; }
  main { overflow: auto; padding: 12px; }
  #buttons button { margin-right: 6px; }
  svg .state rect { fill: #fff; stroke: #888; rx: 6; }
  svg .state.compound > rect { fill: #fafafa; stroke: #bbb; }
  svg .state.active > rect { fill: #ffe9a8; stroke: #d48a00; stroke-width: 2; }
  svg .state text { font: 12px system-ui, sans-serif; }
  svg .edge path { fill: none; stroke: #999; marker-end: url(#arrow); }
  svg .edge text { font: 10px system-ui, sans-serif; fill: #333; }
  #history { font-family: monospace; font-size: 12px; }
  #key { width: 100%; }
</style>
</head>
<body>
<aside>
  <form id="filters">
    <input id="key" type="password" placeholder="API key (kept in this browser)" autocomplete="off">
    <select id="kind"><option>task</option><option>lane</option><option>job</option><option>batch</option><option>schedule</option><option>agent</option></select>
    <input id="state" placeholder="state, e.g. running">
    <input id="search" placeholder="search id or name">
  </form>
  <ul id="actors"></ul>
  <div id="pager"><button id="prev" type="button">‹</button><span id="page"></span><button id="next" type="button">›</button></div>
</aside>
<main>
  <h2 id="title">Select an actor</h2>
  <div id="fields"></div>
  <div id="buttons"></div>
  <div id="chart"></div>
  <h3>History</h3>
  <ol id="history"></ol>
</main>
<script type="module" src="/debug/app.js"></script>
</body>
</html>`;
