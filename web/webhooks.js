// Webhooks: the user's HTTPS endpoints, the secret shown once when one is added, and each
// endpoint's last deliveries. Refreshed by the console's poll (app.js), not a poller of its own.
import { api } from "./api.js";
import { $, element, timeElement, withLabels } from "./ui.js";

export const EVENT_TYPES = [
  ["publication.created", "Создана"],
  ["publication.started", "Публикация началась"],
  ["publication.attempt_failed", "Попытка не удалась"],
  ["publication.rate_limited", "Платформа просит подождать"],
  ["publication.retried", "Повторная попытка"],
  ["publication.adopted", "Пост вышел после ошибки: публикация продолжена"],
  ["publication.processing", "Платформа обрабатывает видео"],
  ["publication.published", "Опубликовано"],
  ["publication.failed", "Не удалось опубликовать"],
  ["publication.cancelled", "Отменена"],
];
// Sent only on request («Отправить тестовое событие»), never subscribed to.
const EVENT_NAMES = { ...Object.fromEntries(EVENT_TYPES), "webhook.test": "Тестовое событие" };
// The last test event's outcome per endpoint, said next to its button.
const testResults = new Map();
const SHOWN_DELIVERIES = 10;

let guarded = async (action) => action();
let shown = null; // what the list shows (JSON): re-rendered only when it changes

export function setupWebhooks(options) {
  guarded = options.guarded;
  $("#webhook-events").append(
    ...EVENT_TYPES.map(([type, name]) =>
      element("label", { class: "check" }, element("input", { type: "checkbox", name: "eventTypes", value: type, checked: true }), ` ${name} `, element("code", {}, type)),
    ),
  );
  $("#webhook-form").addEventListener("submit", submitWebhook);
  $("#webhook-delete-form").addEventListener("submit", submitDelete);
  $("#webhook-secret-copy").addEventListener("click", copySecret);
  $("#webhook-secret-done").addEventListener("click", forgetSecret);
}

// -- the list ------------------------------------------------------------------------------

async function deliveriesOf(endpoint) {
  try {
    const { items } = await api("GET", `/webhooks/${encodeURIComponent(endpoint.id)}/deliveries`);
    return { ...endpoint, deliveries: items.slice(0, SHOWN_DELIVERIES) };
  } catch (error) {
    return { ...endpoint, deliveries: [], problem: error.message };
  }
}

export async function renderWebhooks() {
  const { items } = await api("GET", "/webhooks");
  const endpoints = await Promise.all(items.map(deliveriesOf));
  const signature = JSON.stringify(endpoints);
  if (signature === shown) return;
  shown = signature;
  $("#no-webhooks").hidden = endpoints.length > 0;
  $("#webhooks").replaceChildren(...endpoints.map(endpointItem));
  for (const table of document.querySelectorAll("#webhooks table")) withLabels(table);
}

function eventsInWords(types) {
  if (!types || types.length === 0 || types.length === EVENT_TYPES.length) return "все события";
  return types.map((type) => EVENT_NAMES[type] || type).join(", ");
}

function endpointItem(endpoint) {
  return element(
    "li",
    { "data-webhook": endpoint.id },
    element(
      "div",
      { class: "webhook-head" },
      element("strong", { class: "webhook-url" }, endpoint.url),
      element("button", { type: "button", "data-test-webhook": endpoint.id, onclick: () => sendTest(endpoint) }, "Отправить тестовое событие"),
      element("button", { type: "button", "data-delete-webhook": endpoint.id, onclick: () => askDelete(endpoint) }, "Удалить"),
    ),
    testResults.has(endpoint.id) ? element("p", { role: "status", "data-test-result": endpoint.id }, testResults.get(endpoint.id)) : null,
    element("div", { class: "meta" }, `События: ${eventsInWords(endpoint.eventTypes)} · добавлен `, timeElement(endpoint.createdAt)),
    element("h3", {}, "Последние доставки"),
    endpoint.problem ? element("p", { class: "form-error" }, endpoint.problem) : deliveriesTable(endpoint.deliveries),
  );
}

async function sendTest(endpoint) {
  await guarded(async () => {
    const delivery = await api("POST", `/webhooks/${encodeURIComponent(endpoint.id)}/test`);
    const answer = delivery.statusCode == null ? "ответа нет" : `код ${delivery.statusCode}`;
    testResults.set(
      endpoint.id,
      delivery.ok ? `Тестовое событие доставлено (${answer})` : `Тестовое событие не доставлено (${answer})${delivery.error ? `: ${delivery.error}` : ""}`,
    );
    shown = null; // the list shows the new delivery too
    await renderWebhooks();
  });
}

function deliveryResult(delivery) {
  if (delivery.ok) return element("span", { class: "status published" }, "доставлено");
  return element(
    "span",
    {},
    element("span", { class: "status failed" }, "ошибка"),
    delivery.error ? element("div", { class: "platform-error" }, delivery.error) : null,
  );
}

const PLATFORM_NAMES = { vk: "VK", telegram: "Telegram", rutube: "Rutube", dzen: "Дзен" };

// Which clip and platform the event was about (deliveries from before they were kept say nothing).
function aboutOf(delivery) {
  const parts = [
    delivery.clipId ? `клип ${delivery.clipId}` : null,
    delivery.platform ? PLATFORM_NAMES[delivery.platform] || delivery.platform : null,
  ].filter(Boolean);
  return parts.length ? element("div", { class: "muted", "data-delivery-about": true }, parts.join(" · ")) : null;
}

function deliveriesTable(deliveries) {
  if (deliveries.length === 0) return element("p", { class: "muted", "data-no-deliveries": true }, "Доставок пока не было.");
  return element(
    "table",
    { class: "deliveries" },
    element("thead", {}, element("tr", {}, ...["Время", "Событие", "Попытка", "Код ответа", "Результат"].map((name) => element("th", {}, name)))),
    element(
      "tbody",
      {},
      ...deliveries.map((delivery) =>
        element(
          "tr",
          { "data-delivery": delivery.eventId, "data-ok": String(Boolean(delivery.ok)) },
          element("td", {}, timeElement(delivery.at)),
          element("td", {}, EVENT_NAMES[delivery.type] || delivery.type, aboutOf(delivery)),
          element("td", {}, String(delivery.attempt ?? "—")),
          element("td", {}, delivery.statusCode == null ? "нет ответа" : String(delivery.statusCode)),
          element("td", {}, deliveryResult(delivery)),
        ),
      ),
    ),
  );
}

// -- adding --------------------------------------------------------------------------------

async function submitWebhook(event) {
  event.preventDefault();
  const form = event.target;
  const problem = $("#webhook-error");
  problem.hidden = true;
  const types = [...form.querySelectorAll("input[name=eventTypes]:checked")].map((box) => box.value);
  if (types.length === 0) {
    problem.textContent = "Выберите хотя бы одно событие";
    problem.hidden = false;
    return;
  }
  const body = { url: form.elements.url.value.trim() };
  if (types.length < EVENT_TYPES.length) body.eventTypes = types; // none named: all, now and later
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true; // one click, one endpoint
  try {
    const created = await api("POST", "/webhooks", body);
    form.reset();
    showSecret(created);
    await guarded(renderWebhooks);
  } catch (error) {
    problem.textContent = error.message;
    problem.hidden = false;
  } finally {
    submit.disabled = false;
  }
}

// The secret signs every request to the endpoint; the API returns it this once only.
function showSecret(created) {
  $("#webhook-secret-url").textContent = created.url;
  $("#webhook-secret-value").textContent = created.secret;
  $("#webhook-secret-copied").textContent = "";
  $("#webhook-secret").hidden = false;
  $("#webhook-secret-copy").focus();
}

async function copySecret() {
  const value = $("#webhook-secret-value");
  const said = $("#webhook-secret-copied");
  try {
    await navigator.clipboard.writeText(value.textContent);
    said.textContent = "Секрет скопирован в буфер обмена";
  } catch {
    // No clipboard here (an insecure origin, a denied permission): select it for Ctrl+C.
    getSelection().selectAllChildren(value);
    said.textContent = "Секрет выделен: нажмите Ctrl+C, чтобы скопировать";
  }
}

// Gone from the page once the user has it (and on sign-out).
export function forgetSecret() {
  $("#webhook-secret").hidden = true;
  $("#webhook-secret-value").textContent = "";
  $("#webhook-secret-url").textContent = "";
  $("#webhook-secret-copied").textContent = "";
}

// -- deleting ------------------------------------------------------------------------------

function askDelete(endpoint) {
  const dialog = $("#webhook-delete-dialog");
  $("#webhook-delete-text").textContent = `Запросы на ${endpoint.url} больше не будут отправляться.`;
  dialog.dataset.webhook = endpoint.id;
  dialog.showModal();
}

async function submitDelete(event) {
  event.preventDefault();
  const dialog = $("#webhook-delete-dialog");
  dialog.close();
  await guarded(async () => {
    await api("DELETE", `/webhooks/${encodeURIComponent(dialog.dataset.webhook)}`);
    await renderWebhooks();
  });
}
