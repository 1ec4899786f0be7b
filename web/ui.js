// Small helpers the console's modules share: elements, times and numbers in Russian, links.

export const $ = (selector) => document.querySelector(selector);

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

// An SVG element: presentation attributes only (the console's CSP allows no inline styles).
export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

// On a phone a table becomes a card per row; each cell then carries its column's name.
// A row that spans the whole table (a publication's details) names nothing.
export function withLabels(table) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  for (const row of table.querySelectorAll("tbody tr:not(.details)")) {
    [...row.children].forEach((cell, index) => names[index] && cell.setAttribute("data-label", names[index]));
  }
}

// Times in the user's own time zone, as Russians write them.
export const when = (iso) => new Date(iso).toLocaleString("ru-RU");
const sameDay = (a, b) => a.toDateString() === b.toDateString();
// "12:05" when it is the same day as `reference`, else with the date.
export function clock(iso, reference = new Date()) {
  const time = new Date(iso);
  const hours = time.toLocaleTimeString("ru-RU", { hour: "2-digit", minute: "2-digit" });
  return sameDay(time, new Date(reference)) ? hours : `${time.toLocaleDateString("ru-RU")} ${hours}`;
}
export const timeElement = (iso) => element("time", { datetime: iso }, when(iso));

export const number = (value) => Number(value ?? 0).toLocaleString("ru-RU");

// 1 день, 2 дня, 5 дней.
export function plural(count, [one, few, many]) {
  const tens = count % 100;
  const units = count % 10;
  if (tens >= 11 && tens <= 14) return many;
  if (units === 1) return one;
  if (units >= 2 && units <= 4) return few;
  return many;
}

// Only https links are shown: a post URL comes from a platform, and a `javascript:` one
// must never become a link.
export const safeLink = (url, text = "Открыть пост") =>
  typeof url === "string" && url.startsWith("https://")
    ? element("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text)
    : "—";
