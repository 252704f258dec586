// The page a netring agent serves at / of its API listener: a service map of
// workloads (edges: bytes/s over a chosen window, from /api/v1/top?window=),
// the flows table with the API's filters and a live follow, and the agent's
// status. Everything comes from this agent's API on the same origin; the
// page has no inline script or style (the listener's Content-Security-Policy
// forbids both) and renders names with textContent only.
(function () {
  "use strict";

  const MAP_REFRESH_MS = 2000;
  const STATUS_REFRESH_MS = 5000;
  const $ = (sel) => document.querySelector(sel);

  // ---- formatting ---------------------------------------------------------
  const UNITS = ["B", "kB", "MB", "GB", "TB", "PB"];
  function bytesText(n) {
    let i = 0;
    while (Math.abs(n) >= 1000 && i < UNITS.length - 1) {
      n /= 1000;
      i++;
    }
    return (i === 0 ? Math.round(n).toString() : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + " " + UNITS[i];
  }
  const rateText = (n) => bytesText(n) + "/s";
  const countText = (n) => Math.round(n).toString();
  function timeText(rfc3339) {
    const d = new Date(rfc3339);
    if (isNaN(d)) return rfc3339;
    const p = (v, w) => String(v).padStart(w, "0");
    return p(d.getHours(), 2) + ":" + p(d.getMinutes(), 2) + ":" + p(d.getSeconds(), 2) + "." + p(d.getMilliseconds(), 3);
  }
  const PORTED = new Set(["tcp", "udp", "sctp"]);
  // "ns/pod:port" for a pod, "10.0.0.1:53 (host)" for other ends.
  function endpointText(e, protocol) {
    const port = PORTED.has(protocol) && e.port ? ":" + e.port : "";
    if (e.pod) return e.namespace + "/" + e.pod + port;
    if (e.service) return "service " + (e.namespace ? e.namespace + "/" : "") + e.service + port;
    const ip = e.ip.includes(":") && port ? "[" + e.ip + "]" : e.ip;
    return ip + port + (e.node ? " (host)" : " (world)");
  }
  const ICMP = { 0: "echo-reply", 3: "unreachable", 5: "redirect", 8: "echo-request", 11: "time-exceeded" };
  const ICMPV6 = {
    1: "unreachable",
    2: "packet-too-big",
    3: "time-exceeded",
    128: "echo-request",
    129: "echo-reply",
    135: "neighbor-solicit",
    136: "neighbor-advert",
  };
  // As `netring observe` words them.
  function flagsText(f) {
    if (f.tcp_flags) return f.tcp_flags.join(",");
    if (f.icmp) {
      const name = (f.protocol === "icmpv6" ? ICMPV6 : ICMP)[f.icmp.type];
      return (name || "type " + f.icmp.type) + (f.icmp.code ? " code " + f.icmp.code : "");
    }
    return "";
  }

  // ---- API ----------------------------------------------------------------
  // Resolves to the parsed JSON; rejects with an Error whose message is the
  // API's own ("'tcpp' is not a protocol ...") and whose .parameter names
  // the query parameter at fault.
  async function getJSON(path, signal) {
    let res;
    try {
      res = await fetch(path, { signal: signal, headers: { Accept: "application/json" } });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      apiDown("the agent's API does not answer (" + e.message + ")");
      throw e;
    }
    apiUp();
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (!res.ok) {
      const err = new Error(body && body.error ? body.error : "HTTP " + res.status);
      err.parameter = body && body.parameter ? body.parameter : "";
      err.status = res.status;
      throw err;
    }
    return body;
  }
  function apiDown(msg) {
    const el = $("#api-error");
    el.textContent = msg;
    el.hidden = false;
  }
  function apiUp() {
    $("#api-error").hidden = true;
  }

  // ---- service map --------------------------------------------------------
  const map = {
    nodes: new Map(), // id -> node (positions survive refreshes)
    links: [],
    sim: null,
    width: 0,
    height: 0,
    color: null,
  };

  function initMap() {
    const svg = d3.select("#map");
    const box = svg.node().getBoundingClientRect();
    map.width = Math.max(box.width, 320);
    map.height = Math.max(box.height, 320);
    svg.attr("viewBox", [0, 0, map.width, map.height].join(" "));
    const defs = svg.append("defs");
    defs
      .append("marker")
      .attr("id", "arrow")
      .attr("viewBox", "0 -5 10 10")
      .attr("refX", 10)
      .attr("refY", 0)
      // In pixels, not stroke widths: a heavy edge keeps a readable head.
      .attr("markerUnits", "userSpaceOnUse")
      .attr("markerWidth", 14)
      .attr("markerHeight", 14)
      .attr("orient", "auto")
      .append("path")
      .attr("class", "arrow-head")
      .attr("d", "M0,-5L10,0L0,5");
    svg.append("g").attr("class", "edges");
    svg.append("g").attr("class", "edge-labels");
    svg.append("g").attr("class", "nodes");
    map.color = d3.scaleOrdinal(d3.schemeTableau10);
    map.sim = d3
      .forceSimulation()
      .force("link", d3.forceLink().id((d) => d.id).distance(Math.min(map.width, map.height) / 2.2))
      .force("charge", d3.forceManyBody().strength(-900))
      .force("center", d3.forceCenter(map.width / 2, map.height / 2))
      .force("collide", d3.forceCollide(55))
      .on("tick", drawMap);
  }

  function namespaceOf(id) {
    const slash = id.indexOf("/");
    return slash > 0 && !id.startsWith("service/") ? id.slice(0, slash) : "";
  }
  function nameOf(id) {
    const ns = namespaceOf(id);
    return ns ? id.slice(ns.length + 1) : id;
  }

  async function refreshMap() {
    const w = $("#window").value;
    let data;
    try {
      data = await getJSON("/api/v1/top?key=pair&by=bytes&limit=1000&window=" + encodeURIComponent(w));
    } catch (e) {
      $("#map-note").textContent = e.message;
      return;
    }
    const covered = data.covered_seconds;
    $("#map-note").textContent =
      data.top.length === 0
        ? "no traffic in this window"
        : covered + 0.5 < data.window_seconds
        ? "(measured over the " + Math.round(covered) + " s the agent has history for)"
        : "";
    updateMap(data.top);
  }

  function updateMap(pairs) {
    const seen = new Set();
    const traffic = new Map(); // node id -> bytes/s in + out
    for (const p of pairs) {
      for (const id of [p.src, p.dst]) {
        seen.add(id);
        traffic.set(id, (traffic.get(id) || 0) + p.bytes_per_second);
      }
    }
    let changed = false;
    for (const id of seen) {
      if (!map.nodes.has(id)) {
        map.nodes.set(id, {
          id: id,
          ns: namespaceOf(id),
          name: nameOf(id),
          x: map.width / 2 + (Math.random() - 0.5) * 100,
          y: map.height / 2 + (Math.random() - 0.5) * 100,
        });
        changed = true;
      }
    }
    for (const id of Array.from(map.nodes.keys())) {
      if (!seen.has(id)) {
        map.nodes.delete(id);
        changed = true;
      }
    }
    for (const [id, n] of map.nodes) n.traffic = traffic.get(id) || 0;
    const before = new Set(map.links.map((l) => l.key));
    map.links = pairs.map((p) => ({
      key: p.src + "\u2192" + p.dst,
      source: p.src,
      target: p.dst,
      rate: p.bytes_per_second,
      bytes: p.bytes,
    }));
    changed = changed || map.links.length !== before.size || map.links.some((l) => !before.has(l.key));

    const maxRate = d3.max(map.links, (l) => l.rate) || 1;
    map.width_of = d3.scaleSqrt().domain([0, maxRate]).range([1.5, 14]);
    const maxTraffic = d3.max(Array.from(map.nodes.values()), (n) => n.traffic) || 1;
    map.radius_of = d3.scaleSqrt().domain([0, maxTraffic]).range([14, 30]);

    const nodes = Array.from(map.nodes.values());
    map.sim.nodes(nodes);
    map.sim.force("link").links(map.links);
    renderMap();
    if (changed) map.sim.alpha(0.8).restart();
    else drawMap();
  }

  function renderMap() {
    const svg = d3.select("#map");
    const edge = svg
      .select("g.edges")
      .selectAll("path.edge")
      .data(map.links, (l) => l.key)
      .join((enter) => enter.append("path").attr("class", "edge").attr("marker-end", "url(#arrow)"));
    edge
      .attr("data-src", (l) => (typeof l.source === "object" ? l.source.id : l.source))
      .attr("data-dst", (l) => (typeof l.target === "object" ? l.target.id : l.target))
      .attr("data-rate", (l) => l.rate)
      .attr("stroke-width", (l) => map.width_of(l.rate));
    edge.selectAll("title").data((l) => [l]).join("title").text((l) => l.key + ": " + rateText(l.rate));

    svg
      .select("g.edge-labels")
      .selectAll("text.edge-label")
      .data(map.links, (l) => l.key)
      .join("text")
      .attr("class", "edge-label")
      .text((l) => rateText(l.rate));

    const node = svg
      .select("g.nodes")
      .selectAll("g.node")
      .data(Array.from(map.nodes.values()), (n) => n.id)
      .join((enter) => {
        const g = enter.append("g").attr("class", "node").call(drag());
        g.append("circle");
        g.append("text").attr("class", "node-name").attr("dy", "0.35em");
        g.append("text").attr("class", "node-ns");
        g.append("title");
        return g;
      });
    node.attr("data-id", (n) => n.id);
    node
      .select("circle")
      .attr("r", (n) => map.radius_of(n.traffic))
      .attr("fill", (n) => (n.ns ? map.color(n.ns) : "#9aa0a6"));
    node.select("text.node-name").text((n) => n.name);
    node
      .select("text.node-ns")
      .attr("dy", (n) => map.radius_of(n.traffic) + 14)
      .text((n) => n.ns);
    node.select("title").text((n) => n.id + ": " + rateText(n.traffic) + " in + out");
  }

  // A curved edge (two directions between the same workloads stay apart),
  // ending at the target's circle; a loop for traffic within one workload.
  function edgePath(l) {
    const s = l.source,
      t = l.target;
    if (s === t) {
      const r = map.radius_of(s.traffic);
      return "M" + (s.x - r * 0.7) + "," + (s.y - r * 0.7) + " C" + (s.x - 60) + "," + (s.y - 80) + " " +
        (s.x + 60) + "," + (s.y - 80) + " " + (s.x + r * 0.7) + "," + (s.y - r * 0.7);
    }
    const dx = t.x - s.x,
      dy = t.y - s.y,
      dist = Math.hypot(dx, dy) || 1;
    const rt = map.radius_of(t.traffic) + 3;
    const ex = t.x - (dx / dist) * rt,
      ey = t.y - (dy / dist) * rt;
    const bend = 0.18 * dist;
    const mx = (s.x + ex) / 2 - (dy / dist) * bend,
      my = (s.y + ey) / 2 + (dx / dist) * bend;
    l.labelX = (s.x + 2 * mx + ex) / 4;
    l.labelY = (s.y + 2 * my + ey) / 4;
    return "M" + s.x + "," + s.y + " Q" + mx + "," + my + " " + ex + "," + ey;
  }

  function drawMap() {
    const pad = 40;
    for (const n of map.nodes.values()) {
      n.x = Math.max(pad, Math.min(map.width - pad, n.x));
      n.y = Math.max(pad, Math.min(map.height - pad, n.y));
    }
    const svg = d3.select("#map");
    svg.selectAll("path.edge").attr("d", edgePath);
    svg
      .selectAll("text.edge-label")
      .attr("x", (l) => (l.source === l.target ? l.source.x : l.labelX))
      .attr("y", (l) => (l.source === l.target ? l.source.y - 70 : l.labelY));
    svg.selectAll("g.node").attr("transform", (n) => "translate(" + n.x + "," + n.y + ")");
  }

  function drag() {
    return d3
      .drag()
      .on("start", (n) => {
        if (!d3.event.active) map.sim.alphaTarget(0.3).restart();
        n.fx = n.x;
        n.fy = n.y;
      })
      .on("drag", (n) => {
        n.fx = d3.event.x;
        n.fy = d3.event.y;
      })
      .on("end", (n) => {
        if (!d3.event.active) map.sim.alphaTarget(0);
        n.fx = null;
        n.fy = null;
      });
  }

  // ---- status -------------------------------------------------------------
  async function refreshStatus() {
    let s, ifs;
    try {
      [s, ifs] = await Promise.all([getJSON("/api/v1/status"), getJSON("/api/v1/interfaces")]);
    } catch (e) {
      return;
    }
    $("#agent").textContent =
      "node " + s.node + " \u00b7 agent " + s.version + " \u00b7 " + (s.ready ? "ready" : "not ready");
    $("#agent").classList.toggle("error", !s.ready);
    const rows = [
      ["backend", s.backend.name + (s.backend.reason ? " (" + s.backend.reason + ")" : "")],
      ["ready", s.ready ? "yes" : "no: the data path has not reported ready"],
      ["samples", countText(s.samples.received) + " received, " + countText(s.samples.lost) + " lost"],
      ["flows", countText(s.flows.active) + " active, " + countText(s.flows.evictions) + " evicted"],
      ["exact flows", exactFlowsText(s.exact_flows)],
      [
        "kernel",
        Object.entries(s.kernel_features)
          .map(([k, v]) => k + (v ? " yes" : " no"))
          .join(", "),
      ],
      [
        "fallbacks",
        s.fallbacks.length ? s.fallbacks.map((f) => f.what + ": " + f.chosen + " (" + f.reason + ")").join("; ") : "none",
      ],
    ];
    d3.select("#status")
      .selectAll("div")
      .data(rows)
      .join((enter) => {
        const d = enter.append("div");
        d.append("dt");
        d.append("dd");
        return d;
      })
      .attr("data-field", (r) => r[0])
      .call((d) => d.select("dt").text((r) => r[0]))
      .call((d) => d.select("dd").text((r) => r[1]));

    fillTable(
      "#interfaces",
      ifs.interfaces,
      (i) => [i.name, i.role, i.hook, i.backend, countText(i.rx_packets), countText(i.tx_packets)],
      [false, false, false, false, true, true]
    );
    const losses = s.samples.lost_by_reason.filter((l) => l.count > 0);
    fillTable(
      "#losses",
      losses.length ? losses : [null],
      (l) => (l ? [l.stage, l.reason, countText(l.count), l.in_total ? "yes" : "no (inside a gap)"] : ["none", "", "", ""]),
      [false, false, true, false]
    );
  }

  // As `netring status` words --exact-flows; agents before it have no block.
  function exactFlowsText(x) {
    if (!x) return "not reported (every count estimated from samples)";
    const words = {
      off: "off: every flow count is estimated from samples",
      bulk: "bulk: the kernel counts GSO/GRO super-packets exactly; the rest is estimated",
      all: "all: the kernel counts every packet exactly",
    };
    let t = words[x.mode] || x.mode;
    if (x.mode !== "off") {
      const uncounted = Object.values(x.uncounted_skbs || {}).reduce((a, b) => a + b, 0);
      t += " \u00b7 " + countText(x.counted_skbs) + " skbs counted in the kernel, " + countText(uncounted) + " it could not count";
      if (x.drain_errors > 0) t += ", " + countText(x.drain_errors) + " drain errors";
    }
    return t;
  }

  function fillTable(sel, rows, cells, numeric) {
    d3.select(sel)
      .select("tbody")
      .selectAll("tr")
      .data(rows)
      .join("tr")
      .selectAll("td")
      .data((r) => cells(r))
      .join("td")
      .attr("class", (_, i) => (numeric[i] ? "num" : null))
      .text((c) => c);
  }

  // ---- flows table and follow ---------------------------------------------
  const flows = {
    follow: null, // AbortController of the running follow stream
    rows: new Map(), // flow key -> flow, for follow updates
  };
  const flowKey = (f) => f.id + "@" + f.first_seen;

  function filterParams() {
    const params = new URLSearchParams();
    for (const input of $("#filters").querySelectorAll("input")) {
      input.classList.remove("invalid");
      const v = input.value.trim();
      if (v !== "") params.set(input.name, v);
    }
    return params;
  }

  function showFlowsError(e) {
    const el = $("#flows-error");
    el.textContent = e.parameter ? e.parameter + ": " + e.message : e.message;
    el.hidden = false;
    if (e.parameter) {
      const input = $("#filters").querySelector("input[name='" + CSS.escape(e.parameter) + "']");
      if (input) input.classList.add("invalid");
    }
  }

  async function applyFilters() {
    stopFollow();
    $("#flows-error").hidden = true;
    let data;
    try {
      data = await getJSON("/api/v1/flows?" + filterParams().toString());
    } catch (e) {
      // The rows of the previous filters would read as this one's answer.
      flows.rows = new Map();
      renderFlows(new Set());
      $("#flows-note").textContent = "";
      showFlowsError(e);
      return;
    }
    flows.rows = new Map(data.flows.map((f) => [flowKey(f), f]));
    $("#flows-note").textContent =
      data.count + " of " + data.matched + " matching flows" + (data.truncated ? " (raise rows to see more)" : "");
    renderFlows(new Set());
  }

  // Exact: the kernel counted every packet (or each was sampled with p = 1).
  // The API's "exact"; agents before it say so by a zero bytes_stderr.
  function flowExact(f) {
    if (typeof f.exact === "boolean") return f.exact;
    if (typeof f.bytes_stderr === "number") return f.bytes_stderr === 0;
    return true;
  }
  const ESTIMATE_MARK = "~"; // as `netring observe` marks estimated counts

  function flowCells(f) {
    const mark = flowExact(f) ? "" : ESTIMATE_MARK;
    const overflow = f.overflow === true; // what new flows counted while every table was full
    return [
      timeText(f.last_seen),
      overflow ? "(overflow)" : endpointText(f.src, f.protocol),
      overflow ? "(flow tables full)" : endpointText(f.dst, f.protocol),
      f.protocol,
      f.direction,
      mark + countText(f.packets),
      mark + bytesText(f.bytes),
      flagsText(f),
    ];
  }
  // The bytes cell's tooltip: how exact it is, and what the wire carried.
  function bytesTitle(f) {
    let t = flowExact(f)
      ? "exact"
      : "estimated from samples; 99% between " + bytesText(f.bytes_ci99[0]) + " and " + bytesText(f.bytes_ci99[1]);
    if (typeof f.wire_bytes === "number") t += "; on the wire (every segment's headers): " + bytesText(f.wire_bytes);
    return t;
  }
  const NUMERIC = [false, false, false, false, false, true, true, false];

  // Newest first; `fresh` keys are highlighted (arrived through follow).
  function renderFlows(fresh) {
    const limit = parseInt($("#filters").elements.limit.value, 10) || 100;
    const list = Array.from(flows.rows.values()).sort((a, b) => (a.last_seen < b.last_seen ? 1 : -1));
    for (const f of list.slice(limit)) flows.rows.delete(flowKey(f));
    const tr = d3
      .select("#flows tbody")
      .selectAll("tr")
      .data(list.slice(0, limit), flowKey)
      .join("tr")
      .attr("data-key", flowKey)
      .attr("data-src", (f) => f.src.namespace + "/" + f.src.pod)
      .attr("data-dst", (f) => f.dst.namespace + "/" + f.dst.pod)
      .attr("data-protocol", (f) => f.protocol)
      .attr("data-exact", (f) => (flowExact(f) ? "true" : "false"))
      .classed("fresh", (f) => fresh.has(flowKey(f)))
      .classed("estimated", (f) => !flowExact(f));
    tr.order();
    tr.selectAll("td")
      .data(flowCells)
      .join("td")
      .attr("class", (_, i) => (NUMERIC[i] ? "num" : null))
      .text((c) => c);
    tr.select("td:nth-child(7)").attr("title", bytesTitle);
    $("#estimate-note").hidden = !list.slice(0, limit).some((f) => !flowExact(f));
  }

  async function startFollow() {
    stopFollow();
    $("#flows-error").hidden = true;
    const params = filterParams();
    params.delete("limit");
    params.set("follow", "true");
    params.set("limit", "0"); // only what changes from now on; the table holds the rest
    const ctl = new AbortController();
    flows.follow = ctl;
    setFollowButton(true);
    try {
      const res = await fetch("/api/v1/flows?" + params.toString(), { signal: ctl.signal });
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        const err = new Error(body && body.error ? body.error : "HTTP " + res.status);
        err.parameter = body && body.parameter ? body.parameter : "";
        throw err;
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        const fresh = new Set();
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line === "") continue; // keep-alive
          const f = JSON.parse(line);
          flows.rows.set(flowKey(f), f);
          fresh.add(flowKey(f));
        }
        if (fresh.size) {
          renderFlows(fresh);
          $("#flows-note").textContent = "following: " + flows.rows.size + " flows shown";
        }
      }
      if (flows.follow === ctl) $("#flows-note").textContent = "the follow stream ended (agent stopped?)";
    } catch (e) {
      if (e.name !== "AbortError") showFlowsError(e);
    } finally {
      if (flows.follow === ctl) {
        flows.follow = null;
        setFollowButton(false);
      }
    }
  }

  function stopFollow() {
    if (flows.follow) {
      flows.follow.abort();
      flows.follow = null;
    }
    setFollowButton(false);
  }

  function setFollowButton(on) {
    const b = $("#follow");
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.textContent = on ? "Stop following" : "Follow";
    document.body.classList.toggle("following", on);
  }

  // ---- start --------------------------------------------------------------
  function start() {
    initMap();
    $("#window").addEventListener("change", refreshMap);
    $("#filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      applyFilters();
    });
    $("#follow").addEventListener("click", () => (flows.follow ? stopFollow() : startFollow()));
    refreshMap();
    refreshStatus();
    applyFilters();
    setInterval(refreshMap, MAP_REFRESH_MS);
    setInterval(refreshStatus, STATUS_REFRESH_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
