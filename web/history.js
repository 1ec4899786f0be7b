// A publication's details: the timeline of what happened to it and a small chart of its
// statistics over time. They ride the console's publications poll (app.js calls
// `detailsRow` on every render); nothing here polls by itself.
import { api } from "./api.js";
import { clock, element, number, plural, safeLink, svg, timeElement, when } from "./ui.js";

const FINAL = new Set(["published", "failed", "cancelled"]);
// A final publication's last event is stored a moment after its status: ask a few more
// times for it, then stop (an old publication may have no history at all).
const FINAL_TRIES = 15;

// Open details by publication id: the panel (kept across the table's re-renders, so it
// neither flickers nor loses its place) and what was last fetched for it.
const opened = new Map();

export const isOpen = (id) => opened.has(id);

// Opens or closes a publication's details; true when they are now open.
export function toggle(publication) {
  if (opened.delete(publication.id)) return false;
  const timeline = element("div", { "data-timeline": true }, element("p", { class: "muted" }, "Загрузка истории…"));
  const stats = element("div", { "data-chart-box": true });
  const text = element("div", { "data-text": true });
  const panel = element(
    "div",
    { class: "details-panel" },
    element("div", { class: "details-part" }, element("h3", {}, "Текст"), text),
    element("div", { class: "details-part" }, element("h3", {}, "История"), timeline),
    element("div", { class: "details-part" }, element("h3", {}, "Статистика"), stats),
  );
  opened.set(publication.id, { panel, text, textKey: null, timeline, stats, events: null, shown: null, finalTries: 0, statsKey: null, statsTries: 0, busy: new Set() });
  return true;
}

// The row under a publication's row with its details, or null when they are closed.
// Fetches again what may have changed since the last render.
export function detailsRow(publication, columns) {
  const details = opened.get(publication.id);
  if (!details) return null;
  showText(details, publication);
  refreshEvents(details, publication);
  refreshStats(details, publication);
  return element(
    "tr",
    { class: "details", "data-details": publication.id, id: `details-${publication.id}` },
    element("td", { colspan: columns }, details.panel),
  );
}

// -- what is (or was) posted ----------------------------------------------------------------

// The title and description as the user wrote them, readable before a scheduled post goes
// out; what the platform will change of them (a shortened caption) is in the row's notices.
function showText(details, publication) {
  const key = JSON.stringify([publication.title, publication.description]);
  if (key === details.textKey) return;
  details.textKey = key;
  details.text.replaceChildren(
    element("p", { class: "post-title", "data-post-title": true }, publication.title),
    publication.description
      ? element("p", { class: "post-description", "data-post-description": true }, publication.description)
      : element("p", { class: "muted", "data-post-description": true }, "Без описания"),
  );
}

// -- timeline ------------------------------------------------------------------------------

function eventsNeeded(details, publication) {
  if (!FINAL.has(publication.status)) {
    details.finalTries = 0;
    return true;
  }
  if (details.events === null) return true;
  const last = details.events.at(-1);
  if (last?.status === publication.status) return false;
  return details.finalTries++ < FINAL_TRIES;
}

async function once(details, what, action) {
  if (details.busy.has(what)) return;
  details.busy.add(what);
  try {
    await action();
  } finally {
    details.busy.delete(what);
  }
}

function refreshEvents(details, publication) {
  if (!eventsNeeded(details, publication)) return;
  once(details, "events", async () => {
    try {
      const { items } = await api("GET", `/publications/${encodeURIComponent(publication.id)}/events`);
      details.events = items;
      const shown = JSON.stringify(items);
      if (shown === details.shown) return; // unchanged: keep the list (and any focus in it)
      details.shown = shown;
      details.timeline.replaceChildren(timeline(items));
    } catch (error) {
      details.events ??= [];
      details.shown = null;
      details.timeline.replaceChildren(element("p", { class: "form-error" }, `Не удалось загрузить историю: ${error.message}`));
    }
  });
}

// An attempt that failed for good is the publication's failure: said once, not twice.
function withoutRepeats(events) {
  return events.filter((event, i) => {
    const next = events[i + 1];
    return !(
      event.type === "publication.attempt_failed" &&
      next?.type === "publication.failed" &&
      next.errorMessage === event.errorMessage
    );
  });
}

function timeline(all) {
  if (all.length === 0) return element("p", { class: "muted" }, "Событий пока нет.");
  const events = withoutRepeats(all);
  return element(
    "ol",
    { class: "timeline" },
    ...events.map((event) =>
      element(
        "li",
        { "data-event": event.type, class: `event ${event.type.replace("publication.", "")}` },
        timeElement(event.at),
        " ",
        element("span", { class: "event-text" }, ...eventInWords(event)),
      ),
    ),
  );
}

// What an event says, in Russian: text and, for a published one, the link to the post.
export function eventInWords(event) {
  const reason = (text) => (event.errorMessage ? `${text}: ${event.errorMessage}` : text);
  switch (event.type) {
    case "publication.created":
      return [event.scheduledAt ? `Создана (запланирована на ${clock(event.scheduledAt, event.at)})` : "Создана"];
    case "publication.started":
      return ["Публикация началась"];
    case "publication.attempt_failed":
      return [reason("Попытка не удалась")];
    case "publication.rate_limited":
      return [event.waitUntil ? `Платформа просит подождать до ${clock(event.waitUntil, event.at)}` : "Платформа просит подождать"];
    case "publication.retried":
      return [event.retry ? `Повторная попытка №${event.retry}` : "Повторная попытка"];
    case "publication.adopted":
      return ["Платформа приняла клип после того, как мы сочли попытку неудачной: публикация продолжена, повторять не нужно"];
    case "publication.processing":
      return [event.processingState ? `Обработка на платформе: ${event.processingState}` : "Платформа обрабатывает видео"];
    case "publication.published":
      return event.postUrl ? ["Опубликовано: ", safeLink(event.postUrl)] : ["Опубликовано"];
    case "publication.failed":
      return [reason("Не удалось опубликовать")];
    case "publication.cancelled":
      return ["Отменена"];
    default:
      return [event.type];
  }
}

// -- statistics chart ----------------------------------------------------------------------

function refreshStats(details, publication) {
  if (publication.status !== "published") {
    if (details.statsKey !== "unpublished") {
      details.statsKey = "unpublished";
      const unavailable = publication.stats?.available === false;
      const note = unavailable ? publication.stats.message : "Статистика появится после публикации.";
      details.stats.replaceChildren(element("p", { class: "muted", "data-stats-unavailable": unavailable }, note));
    }
    return;
  }
  // A new sync brings a new sample: fetch the series again only then.
  const syncedAt = publication.stats?.syncedAt;
  const key = `published:${syncedAt ?? ""}`;
  if (details.statsKey === key) return;
  once(details, "stats", async () => {
    try {
      const series = await api("GET", `/publications/${encodeURIComponent(publication.id)}/stats`);
      details.stats.replaceChildren(...statsView(series, publication));
      // The sync marks the publication a moment before it stores the sample: until the
      // sample is there, ask again on the next polls (a few times).
      const last = series.items?.at(-1);
      const behind = series.available && syncedAt && !(last && new Date(last.at) >= new Date(syncedAt));
      details.statsTries = behind ? details.statsTries + 1 : 0;
      if (!behind || details.statsTries > FINAL_TRIES) {
        details.statsKey = key;
        details.statsTries = 0;
      }
    } catch (error) {
      details.stats.replaceChildren(element("p", { class: "form-error" }, `Не удалось загрузить статистику: ${error.message}`));
      details.statsKey = key; // once per sync, not on every poll
    }
  });
}

function statsView(series, publication) {
  if (!series.available) {
    return [element("p", { class: "muted", "data-stats-unavailable": true }, publication.stats?.message || "Статистика недоступна для этой платформы")];
  }
  const items = series.items || [];
  if (items.length < 2) {
    const note = items.length === 0 ? "Статистики пока нет: она появится после первого обновления." : "Пока одна точка: график появится после следующего обновления статистики.";
    return [element("p", { class: "muted", "data-chart-empty": true }, note), items.length ? legend(items.at(-1)) : null].filter(Boolean);
  }
  return [chart(items), legend(items.at(-1))];
}

function legend(last) {
  return element(
    "p",
    { class: "legend", "data-legend": true },
    element("span", { class: "swatch", "aria-hidden": "true" }),
    `Просмотры ${number(last.views)} · лайки ${number(last.likes)} · комментарии ${number(last.comments)} · репосты ${number(last.reposts)}`,
    element("span", { class: "muted" }, ` (на ${when(last.at)})`),
  );
}

// 45 минут, 5 часов, 3 дня: how long the series covers.
export function spanInWords(milliseconds) {
  const minutes = Math.max(1, Math.round(milliseconds / 60000));
  if (minutes < 60) return `${minutes} ${plural(minutes, ["минуту", "минуты", "минут"])}`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} ${plural(hours, ["час", "часа", "часов"])}`;
  const days = Math.round(hours / 24);
  return `${days} ${plural(days, ["день", "дня", "дней"])}`;
}

const WIDTH = 320;
const HEIGHT = 140;
const PLOT = { left: 44, right: WIDTH - 8, top: 10, bottom: HEIGHT - 24 };

function axisTime(time, spansDays) {
  return spansDays
    ? time.toLocaleDateString("ru-RU", { day: "numeric", month: "short" })
    : time.toLocaleTimeString("ru-RU", { hour: "2-digit", minute: "2-digit" });
}

// Views over time as a line, drawn in SVG.
function chart(items) {
  const times = items.map((item) => new Date(item.at).getTime());
  const first = times[0];
  const span = Math.max(1, times.at(-1) - first);
  const top = Math.max(1, ...items.map((item) => item.views ?? 0));
  const x = (time) => PLOT.left + ((time - first) / span) * (PLOT.right - PLOT.left);
  const y = (views) => PLOT.bottom - ((views ?? 0) / top) * (PLOT.bottom - PLOT.top);
  const points = items.map((item, index) => `${x(times[index]).toFixed(1)},${y(item.views).toFixed(1)}`).join(" ");
  const spansDays = new Date(first).toDateString() !== new Date(times.at(-1)).toDateString();
  const label = `Просмотры: ${number(items[0].views)} → ${number(items.at(-1).views)} за ${spanInWords(times.at(-1) - first)}`;
  return svg(
    "svg",
    { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label, "data-chart": "" },
    svg("line", { class: "axis", x1: PLOT.left, y1: PLOT.bottom, x2: PLOT.right, y2: PLOT.bottom }),
    svg("line", { class: "grid", x1: PLOT.left, y1: PLOT.top, x2: PLOT.right, y2: PLOT.top }),
    svg("text", { class: "tick", x: PLOT.left - 4, y: PLOT.top + 4, "text-anchor": "end" }, number(top)),
    svg("text", { class: "tick", x: PLOT.left - 4, y: PLOT.bottom + 4, "text-anchor": "end" }, "0"),
    svg("text", { class: "tick", x: PLOT.left, y: HEIGHT - 6, "text-anchor": "start" }, axisTime(new Date(first), spansDays)),
    svg("text", { class: "tick", x: PLOT.right, y: HEIGHT - 6, "text-anchor": "end" }, axisTime(new Date(times.at(-1)), spansDays)),
    svg("polyline", { class: "line views", points, fill: "none" }),
    ...(items.length <= 40 ? items.map((item, index) => svg("circle", { class: "point", cx: x(times[index]).toFixed(1), cy: y(item.views).toFixed(1), r: 2.5 })) : []),
  );
}
