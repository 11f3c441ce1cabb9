// The overview: GET /api/v1/info, refreshed every few seconds while shown.

import { h, replace } from "/assets/dom.js";
import { call } from "../api.js";
import { attempt } from "./ui.js";

const REFRESH_MS = 2000;

export function showOverview(context) {
  const figures = h("dl", { class: "figures", id: "overview" });
  const stamp = h("p", { class: "muted" });
  replace(context.view,
    h("h2", {}, "Overview"),
    figures,
    stamp,
    h("button", { type: "button", onclick: () => refresh() }, "Refresh"),
  );

  async function refresh() {
    const info = await attempt(context, () => call("GET", "/api/v1/info"));
    if (!info) return;
    const rows = [
      ["App", info.app, "app"],
      ["Connections", info.connections, "connections"],
      ["Subscriptions", info.subscriptions, "subscriptions"],
      ["Channels", info.channels, "channels"],
      ["Node", info.node, "node"],
      ["Version", info.version, "version"],
      ["Uptime", uptime(info.uptime_seconds), "uptime"],
    ];
    replace(figures, rows.map(([term, value, key]) =>
      h("div", { "data-figure": key }, h("dt", {}, term), h("dd", {}, String(value)))));
    replace(stamp, `Updated ${new Date().toLocaleTimeString()}; this node and this app only.`);
  }

  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  context.onLeave(() => clearInterval(timer));
}

function uptime(seconds) {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return days > 0 ? `${days} d ${hours} h` : hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min ${seconds % 60} s`;
}
