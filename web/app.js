// The console: clips, platforms, publications (their details: history.js), webhooks (webhooks.js);
// everything through the public HTTP API.
import { ApiError, api, finishOidcSignIn, loadConfig, signInLocally, signInWithOidc, token } from "./api.js";
import { detailsRow, isOpen, toggle as toggleDetails } from "./history.js";
import { $, element, safeLink, when, withLabels } from "./ui.js";
import { forgetSecret, renderWebhooks, setupWebhooks } from "./webhooks.js";

const STATUS = {
  scheduled: "запланировано", publishing: "публикуется", published: "опубликовано",
  failed: "ошибка", cancelled: "отменено", ready: "готов", invalid: "не прошёл проверку",
  deleted: "удалён", active: "подключено", expired: "токен истёк",
};
const POLL_MS = 2000;
// Where a Дзен author publishes by hand when the service could not.
const DZEN_STUDIO = "https://dzen.ru/profile/editor";
// Webhooks' deliveries are read on every third poll: they come after a publication's events.
const WEBHOOK_POLLS = 3;
// The console's config.json; `local` (the local stack only) names the emulators' demo accounts.
let consoleConfig = {};
let platforms = [];

function showError(error) {
  const alert = $("#alert");
  alert.textContent = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  alert.hidden = false;
  if (error instanceof ApiError && error.status === 401) showSignIn();
}

function clearError() {
  $("#alert").hidden = true;
}

async function guarded(action) {
  try {
    clearError();
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

function megabytes(bytes) {
  if (bytes == null) return "—";
  if (bytes < 1048576) return `${Math.max(1, Math.round(bytes / 1024))} КБ`;
  if (bytes >= 1073741824) return `${+(bytes / 1073741824).toFixed(1)} ГБ`;
  return `${+(bytes / 1048576).toFixed(1)} МБ`;
}
const seconds = (value) => (value == null ? "—" : `${Math.round(value)} с`);
// When the post went out, or is to: the time it was published, the time it is scheduled for.
function whenOf(publication) {
  if (publication.publishedAt) return when(publication.publishedAt);
  if (publication.scheduledAt) return when(publication.scheduledAt);
  return publication.status === "publishing" ? "сейчас" : "—";
}
const status = (value) => element("span", { class: `status ${value}` }, STATUS[value] || value);

// -- platforms ------------------------------------------------------------------------------

// Connect attempts left this hour ({left, limit}); only a credential a platform refuses uses one.
let connectAttempts = null;

function attemptsText(afterDisconnect = false) {
  if (!connectAttempts) return "";
  const { left, limit } = connectAttempts;
  if (left === 0) {
    return afterDisconnect
      ? "Подключить снова в этот час не получится: попытки подключения закончились."
      : "Попытки подключения на этот час закончились: попробуйте позже.";
  }
  return `${afterDisconnect ? "Подключить снова: " : ""}осталось попыток подключения в этот час — ${left} из ${limit}. Попытку расходует только токен, сессия или пароль, которые платформа не приняла.`;
}

async function renderPlatforms() {
  const answer = await api("GET", "/platforms");
  platforms = answer.items;
  connectAttempts = answer.connectAttempts;
  const list = $("#platforms");
  list.replaceChildren(
    ...platforms.map((p) => {
      const actions = [];
      if (!p.allowedByPlan) {
        const plans = p.plans.length ? ` (есть на тарифе ${p.plans.join(", ")})` : "";
        actions.push(element("span", { class: "muted", "data-plan-needed": p.platform }, `Недоступно на вашем тарифе${plans}`));
      }
      else if (p.connected) {
        actions.push(element("button", { type: "button", "data-disconnect": p.platform, onclick: () => askDisconnect(p) }, "Отключить"));
      } else {
        actions.push(element("button", { type: "button", class: "primary", "data-connect": p.platform, onclick: () => connect(p) }, "Подключить"));
      }
      if (p.connected && p.platform === "vk" && p.connection.status === "active") {
        actions.push(element("button", { type: "button", "data-destination": "vk", onclick: () => chooseDestination() }, "Куда публиковать"));
      }
      const connection = p.connection;
      return element(
        "li",
        { "data-platform": p.platform },
        element("strong", {}, p.name),
        " ",
        p.connected ? status(connection.status) : element("span", { class: "muted" }, "не подключено"),
        p.connected ? element("div", { class: "meta" }, connection.accountName) : null,
        connection?.method
          ? element("div", { class: "meta", "data-method": connection.method }, connection.method === "session" ? "через сессию VK: клипы (неофициально)" : "через VK ID: обычные видео")
          : null,
        connection?.destination ? element("div", { class: "meta", "data-destination-name": true }, `публикует в: ${connection.destination.name}`) : null,
        connection?.warning
          ? element("div", { class: "warning", "data-warning": p.platform }, connection.warning, connection.expiresAt && connection.status === "active" ? ` (${when(connection.expiresAt)})` : "")
          : null,
        p.notice ? element("div", { class: "notice", "data-notice": p.platform }, p.notice) : null,
        element("div", { class: "meta" }, `до ${megabytes(p.limits.maxBytes)}${p.statsAvailable ? "" : " · без статистики"}`),
        element("div", { class: "card-actions" }, ...actions),
      );
    }),
  );
}

const OAUTH_PENDING = "autopost.oauth";

async function connect(platform) {
  if (platform.connectMethods.length === 1 && platform.connectMethod === "oauth") {
    await startOAuth(platform);
    return;
  }
  const fields = $("#connect-fields");
  $("#connect-title").textContent = `Подключить ${platform.name}`;
  $("#connect-error").hidden = true;
  fields.replaceChildren(...connectFields(platform).filter(Boolean));
  $("#connect-attempts").textContent = attemptsText();
  const dialog = $("#connect-dialog");
  dialog.dataset.platform = platform.platform;
  dialog.showModal();
  fields.querySelector("input, textarea").focus();
}

async function startOAuth(platform) {
  await guarded(async () => {
    // Back to this very address: the session lives in this origin's tab storage.
    const redirectUri = location.origin + location.pathname;
    const { authorizeUrl, state } = await api("POST", `/connections/${platform.platform}/authorize`, { redirectUri });
    // The platform sends the browser back here; only this tab's pending state is accepted.
    sessionStorage.setItem(OAUTH_PENDING, JSON.stringify({ platform: platform.platform, state }));
    location.assign(authorizeUrl);
  });
}

function hint(text) {
  return element("p", { class: "hint" }, text);
}

function connectFields(platform) {
  const local = consoleConfig.local?.[platform.platform];
  if (platform.platform === "vk") {
    const way = (name) => platform.connectMethods.find((m) => m.method === name) || {};
    return [
      element("h3", {}, "Клипы — через сессию VK (неофициально)"),
      hint(way("session").notice || ""),
      hint("Откройте vkvideo.ru, войдя в VK. В инструментах разработчика браузера (F12 → Сеть) выберите любой запрос к vkvideo.ru и скопируйте значение заголовка Cookie целиком: сервис оставит из него только cookie входа в VK."),
      local ? hint("Локально сессия демо-пользователя эмулятора уже вставлена.") : null,
      element("label", {}, "Сессия VK (заголовок Cookie)", element("textarea", { name: "session", required: true, rows: 3, autocomplete: "off", spellcheck: "false" }, local?.session || "")),
      element("h3", {}, "Или обычные видео — через VK ID (официально)"),
      hint(way("oauth").notice || ""),
      element("button", { type: "button", "data-oauth": "vk", onclick: () => startOAuth(platform) }, "Войти через VK ID"),
    ];
  }
  if (platform.platform === "telegram") {
    return [
      local
        ? hint(`Локально: канал ${local.channel} с токеном бота ${local.botToken} — или канал ${local.serviceChannel} без токена, через бота сервиса ${local.serviceBot}.`)
        : null,
      element("label", {}, "Канал (@username или -100…)", element("input", { name: "channel", required: true, placeholder: "@my_channel" })),
      element("label", {}, "Токен бота (необязательно: иначе бот сервиса)", element("input", { name: "botToken", autocomplete: "off" })),
      hint("Без своего бота: сделайте бота сервиса администратором канала с правом публикации. Вы получите код — опубликуйте его в канале, и канал подключится."),
    ];
  }
  if (platform.platform === "rutube") {
    return [
      local ? hint(`Локально: логин ${local.login}, пароль ${local.password}.`) : null,
      hint("Войдите логином и паролем Rutube (пароль уходит только в Rutube и не сохраняется) или вставьте API-токен."),
      element("label", {}, "Логин Rutube (e-mail)", element("input", { name: "login", autocomplete: "username" })),
      element("label", {}, "Пароль Rutube", element("input", { name: "password", type: "password", autocomplete: "current-password" })),
      element("label", {}, "или API-токен Rutube", element("input", { name: "token", autocomplete: "off" })),
    ];
  }
  return [
    hint(platform.notice || ""),
    hint("Откройте студию Дзена (dzen.ru/profile/editor), войдя в свой аккаунт. В инструментах разработчика браузера (F12 → Сеть) выберите любой запрос к dzen.ru и скопируйте значение заголовка Cookie целиком."),
    local ? hint("Локально сессия демо-канала эмулятора уже вставлена.") : null,
    element("label", {}, "Сессия Дзена (заголовок Cookie)", element("textarea", { name: "session", required: true, rows: 3, autocomplete: "off", spellcheck: "false" }, local?.session || "")),
    element("label", {}, "Id канала (необязательно: из адреса студии /profile/editor/id/…)", element("input", { name: "publisherId", autocomplete: "off" })),
  ];
}

let proofWatch = null;

// The service's bot posts for a user only after they prove they run the channel: they
// post the code there; the bot sees it and the channel appears as connected.
async function awaitChannelProof(proof) {
  const fields = $("#connect-fields");
  const parts = [
    hint(proof.instructions),
    element("p", { class: "proof-code", "data-proof-code": true }, proof.code),
    element("p", { class: "muted", "aria-live": "polite" }, "Ждём сообщение с кодом в канале…"),
    consoleConfig.local
      ? element(
          "button",
          {
            type: "button",
            "data-emulator-post": true,
            onclick: () => guarded(() => fetch("/local/telegram/post", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ channel: proof.channel, text: proof.code }) })),
          },
          "Опубликовать код в канале (эмулятор)",
        )
      : null,
  ];
  fields.replaceChildren(...parts.filter(Boolean));
  clearInterval(proofWatch);
  proofWatch = setInterval(async () => {
    const dialog = $("#connect-dialog");
    if (!dialog.open) return clearInterval(proofWatch);
    const telegram = (await api("GET", "/platforms")).items.find((p) => p.platform === "telegram");
    if (telegram?.connected) {
      clearInterval(proofWatch);
      dialog.close();
      announce(`Telegram подключён: ${telegram.connection.accountName}`);
      await refresh();
    }
  }, POLL_MS);
}

async function submitConnect(event) {
  event.preventDefault();
  const dialog = $("#connect-dialog");
  const data = Object.fromEntries(new FormData(event.target));
  for (const key of Object.keys(data)) if (!data[key]) delete data[key];
  try {
    if (dialog.dataset.platform === "telegram" && !data.botToken) {
      await awaitChannelProof({ ...(await api("POST", "/connections/telegram/proof", data)), channel: data.channel });
      return;
    }
    const path = dialog.dataset.platform === "vk" ? "/connections/vk/session" : `/connections/${dialog.dataset.platform}`;
    const connection = await api("POST", path, data);
    announce(`${connection.name} подключён: ${connection.accountName}`);
    dialog.close();
    await refresh();
  } catch (error) {
    const problem = $("#connect-error");
    problem.textContent = error.message;
    problem.hidden = false;
    // A refused credential used one up: say how many are left.
    await guarded(renderPlatforms);
    $("#connect-attempts").textContent = attemptsText();
  }
}

async function scheduledCount(platform) {
  let count = 0;
  let cursor = null;
  do {
    const query = new URLSearchParams({ platform, status: "scheduled", limit: "100", ...(cursor ? { cursor } : {}) });
    const page = await api("GET", `/publications?${query}`);
    count += page.items.length;
    cursor = page.nextCursor;
  } while (cursor);
  return count;
}

async function askDisconnect(platform) {
  await guarded(async () => {
    const count = await scheduledCount(platform.platform);
    $("#disconnect-title").textContent = `Отключить ${platform.name}?`;
    $("#disconnect-text").textContent =
      count === 0
        ? "Запланированных публикаций на этой платформе нет."
        : `Будет отменено запланированных публикаций: ${count}.`;
    $("#disconnect-attempts").textContent = attemptsText(true);
    const dialog = $("#disconnect-dialog");
    dialog.dataset.platform = platform.platform;
    dialog.showModal();
  });
}

async function submitDisconnect(event) {
  event.preventDefault();
  const dialog = $("#disconnect-dialog");
  dialog.close();
  await guarded(async () => {
    const { cancelledPublications } = await api("DELETE", `/connections/${dialog.dataset.platform}`);
    const name = platforms.find((p) => p.platform === dialog.dataset.platform)?.name || dialog.dataset.platform;
    announce(cancelledPublications ? `${name} отключён, отменено запланированных публикаций: ${cancelledPublications}` : `${name} отключён`);
    await refresh();
  });
}

async function chooseDestination() {
  await guarded(async () => {
    const { items, current } = await api("GET", "/connections/vk/destinations");
    const select = element(
      "select",
      { name: "communityId", id: "destination-select" },
      element("option", { value: "" }, "Моя страница"),
      ...items.map((c) => element("option", { value: String(c.communityId), selected: current?.communityId === c.communityId }, c.name)),
    );
    $("#destination-fields").replaceChildren(element("label", {}, "Куда публиковать клипы VK", select));
    $("#destination-error").hidden = true;
    $("#destination-dialog").showModal();
    select.focus();
  });
}

async function submitDestination(event) {
  event.preventDefault();
  const value = event.target.elements.communityId.value;
  try {
    await api("PUT", "/connections/vk/destination", { communityId: value ? Number(value) : null });
    $("#destination-dialog").close();
    await renderPlatforms();
  } catch (error) {
    const problem = $("#destination-error");
    problem.textContent = error.message;
    problem.hidden = false;
  }
}

// The latest confirmation only, and only for a while: an old «Telegram подключён» must not
// outlive the next change (another platform, a disconnect).
const NOTICE_MS = 10_000;
let noticeTimer = null;

function announce(text) {
  const note = $("#notice");
  note.textContent = text;
  note.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { note.hidden = true; }, NOTICE_MS);
}

// The platform sent the browser back: a code in the query (VK ID) or a token in the
// fragment (VK's legacy flow). Finish with the user's own token; only a state this tab
// started is accepted, and the address is cleaned before anything else.
async function finishOAuth() {
  const query = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  const returned = fragment.get("state") ? fragment : query;
  const state = returned.get("state");
  if (!state) return;
  history.replaceState(null, "", location.pathname);
  const pending = JSON.parse(sessionStorage.getItem(OAUTH_PENDING) || "null");
  sessionStorage.removeItem(OAUTH_PENDING);
  if (!pending || pending.state !== state) {
    showError(new Error("Ссылка подключения открыта не из этого окна или устарела: начните подключение заново"));
    return;
  }
  const body = { state };
  for (const [key, name] of [["code", "code"], ["device_id", "deviceId"], ["access_token", "accessToken"]]) {
    if (returned.get(key)) body[name] = returned.get(key);
  }
  // The platform's refusal in its own words ("invalid_request: Security Error").
  const refusal = [returned.get("error"), returned.get("error_description")].filter(Boolean).join(": ");
  if (refusal) body.error = refusal.slice(0, 256);
  if (returned.get("expires_in")) body.expiresIn = Number(returned.get("expires_in"));
  await guarded(async () => {
    const connection = await api("POST", `/connections/${pending.platform}/complete`, body);
    announce(`${connection.name} подключён: ${connection.accountName}`);
  });
}

// -- clips and publishing -------------------------------------------------------------------

async function renderClips() {
  const clips = (await api("GET", "/clips?limit=100")).items;
  $("#no-clips").hidden = clips.length > 0;
  $("#clips tbody").replaceChildren(
    ...clips.map((clip) =>
      element(
        "tr",
        { "data-clip": clip.id },
        element("td", {}, clip.id),
        element(
          "td",
          {},
          status(clip.status),
          clip.reason ? element("div", { class: "muted" }, clip.reason) : null,
          element("div", { class: "clip-summary", "data-clip-summary": clip.id }),
        ),
        element("td", {}, megabytes(clip.sizeBytes)),
        element("td", {}, seconds(clip.durationSeconds)),
        element("td", {}, clip.width ? `${clip.width}×${clip.height}` : "—"),
        element("td", {}, clip.status === "ready" ? element("button", { type: "button", "data-publish": clip.id, onclick: () => openPublish(clip) }, "Опубликовать") : null),
      ),
    ),
  );
  withLabels($("#clips"));
  showClipSummaries();

}

// One key per publish dialog (and one for its repost): a submit repeated after a lost
// answer is the same request, and the server answers it again instead of publishing twice.
let publishKey = null;
let repostKey = null;

function openPublish(clip) {
  publishKey = crypto.randomUUID();
  repostKey = null;
  const form = $("#publish-form");
  form.reset();
  $("#publish-repost").hidden = true;
  $("#publish-clip").textContent = clip.id;
  $("#publish-error").hidden = true;
  $("#publish-platforms").replaceChildren(
    element("legend", {}, "Платформы"),
    ...platforms.map((p) =>
      element(
        "div",
        {},
        element(
          "label",
          {},
          // A platform that cannot be published to now is not offered as if it could.
          element("input", { type: "checkbox", name: "platforms", value: p.platform, checked: p.connected && p.allowedByPlan, disabled: !(p.connected && p.allowedByPlan) }),
          ` ${p.name}`,
          !p.allowedByPlan ? element("span", { class: "muted" }, " — недоступно на вашем тарифе") : !p.connected ? element("span", { class: "muted" }, " — не подключено") : null,
        ),
        element("span", { class: "platform-error", "data-platform-error": p.platform, hidden: true }),
        p.platform === "telegram" ? element("span", { class: "warning", "data-caption-warning": true, "aria-live": "polite", hidden: true }) : null,
      ),
    ),
  );
  const vkFormat = $("#publish-vk-format");
  const vkChosen = () => Boolean(form.querySelector('input[name=platforms][value="vk"]')?.checked);
  vkFormat.hidden = !vkChosen();
  form.oninput = () => {
    warnCaption(form);
    vkFormat.hidden = !vkChosen(); // the choice is VK's: shown only while VK is chosen
  };
  const dialog = $("#publish-dialog");
  dialog.dataset.clip = clip.id;
  dialog.showModal();
  form.elements.title.focus();
}

// Telegram counts a caption in UTF-16 code units (an emoji is two of its 1024): said
// while typing, before anything is created, as the API's `notices` will say after.
const TELEGRAM_CAPTION_UNITS = 1024;

function warnCaption(form) {
  const warning = form.querySelector("[data-caption-warning]");
  if (!warning) return;
  const title = form.elements.title.value;
  const description = form.elements.description.value;
  const text = description ? `${title}\n\n${description}` : title;
  let units = 0;
  for (const char of text) units += char.codePointAt(0) > 0xffff ? 2 : 1;
  const telegram = form.querySelector('input[name=platforms][value="telegram"]');
  warning.hidden = !(telegram?.checked && units > TELEGRAM_CAPTION_UNITS);
  warning.textContent = `Подпись длиннее, чем берёт Telegram: ${units} знаков из ${TELEGRAM_CAPTION_UNITS} (эмодзи считаются за два). В канал уйдёт её начало с «…»`;
}

async function submitPublish(event) {
  event.preventDefault();
  const form = event.target;
  const dialog = $("#publish-dialog");
  const chosen = [...form.querySelectorAll("input[name=platforms]:checked")].map((box) => box.value);
  for (const note of form.querySelectorAll("[data-platform-error]")) note.hidden = true;
  const problem = $("#publish-error");
  problem.hidden = true;
  if (chosen.length === 0) {
    problem.textContent = "Выберите хотя бы одну платформу";
    problem.hidden = false;
    return;
  }
  const body = { platforms: chosen, title: form.elements.title.value, description: form.elements.description.value };
  if (form.elements.scheduledAt.value) body.scheduledAt = new Date(form.elements.scheduledAt.value).toISOString();
  if (chosen.includes("vk")) body.vk = { format: form.elements.vkFormat.value };
  const reposting = event.submitter?.id === "publish-repost";
  if (reposting) body.repost = true; // the user asked to publish again where it already is
  $("#publish-repost").hidden = true;
  try {
    const key = reposting ? repostKey : publishKey;
    const created = await api("POST", `/clips/${dialog.dataset.clip}/publications`, body, { "Idempotency-Key": key });
    dialog.close();
    const names = created.items.map((p) => platforms.find((x) => x.platform === p.platform)?.name || p.platform).join(", ");
    announce(body.scheduledAt ? `Запланировано на ${when(body.scheduledAt)}: ${names}` : `Публикуется: ${names}`);
    await renderPublications();
  } catch (error) {
    if (error.code === "IDEMPOTENCY_KEY_REUSED") {
      // The first submit of this dialog went through (its answer was lost); this one differs.
      problem.textContent = "Публикация уже отправлена с прежними данными: она в списке ниже";
      problem.hidden = false;
      await renderPublications();
      return;
    }
    if (error.code === "ALREADY_PUBLISHED") {
      repostKey ??= crypto.randomUUID();
      problem.textContent = `${error.message}. Опубликовать ещё раз?`;
      problem.hidden = false;
      $("#publish-repost").hidden = false;
      return;
    }
    const perPlatform = error.details?.platforms;
    if (perPlatform && !Array.isArray(perPlatform)) {
      for (const [platform, detail] of Object.entries(perPlatform)) {
        const note = form.querySelector(`[data-platform-error="${platform}"]`);
        note.textContent = detail.message;
        note.hidden = false;
      }
    }
    problem.textContent = error.message;
    problem.hidden = false;
  }
}

// -- publications ---------------------------------------------------------------------------

function statsCell(publication) {
  const stats = publication.stats;
  if (!stats.available) return element("span", { class: "muted" }, stats.message);
  if (stats.syncedAt == null) return element("span", { class: "muted" }, publication.status === "published" ? "ещё не собрана" : "—");
  // Words, not emoji: a system without an emoji font shows empty boxes.
  return element(
    "span",
    { "data-stats": true },
    // A figure the platform does not give (Rutube's likes and comments) is no data, never 0.
    `просмотры ${stats.views ?? "нет данных"} · лайки ${stats.likes ?? "нет данных"} · комментарии ${stats.comments ?? "нет данных"}`,
  );
}

const PUBLICATION_COLUMNS = 7;

// «Подробнее» opens the publication's history and statistics in a row under it.
function detailsButton(publication) {
  const open = isOpen(publication.id);
  return element(
    "button",
    {
      type: "button",
      "data-details-toggle": publication.id,
      "aria-expanded": String(open),
      "aria-controls": open ? `details-${publication.id}` : null,
      onclick: () => toggleRow(publication),
    },
    open ? "Свернуть" : "Подробнее",
  );
}

// At once, without waiting for the list: the row drawn anew, its details added or removed
// (the next poll brings fresh figures).
function toggleRow(publication) {
  toggleDetails(publication);
  const row = $(`#publications tr[data-publication="${publication.id}"]`);
  $(`#publications tr[data-details="${publication.id}"]`)?.remove();
  if (!row) return;
  const fresh = publicationRow(publication);
  row.replaceWith(fresh);
  const details = detailsRow(publication, PUBLICATION_COLUMNS);
  if (details) fresh.after(details);
  withLabels($("#publications"));
  fresh.querySelector("[data-details-toggle]").focus();
}

// The publications the console last read (the newest 100), for the clips' summaries.
let latestPublications = [];

// Under each clip, where it stands on each platform: its newest publication there.
function showClipSummaries() {
  const byClip = new Map();
  for (const p of latestPublications) {
    const onPlatforms = byClip.get(p.clipId) ?? new Map();
    if (!onPlatforms.has(p.platform)) onPlatforms.set(p.platform, p);
    byClip.set(p.clipId, onPlatforms);
  }
  for (const cell of document.querySelectorAll("[data-clip-summary]")) {
    const onPlatforms = [...(byClip.get(cell.dataset.clipSummary)?.values() ?? [])];
    cell.replaceChildren(
      ...onPlatforms.map((p) => {
        const moderated = p.status === "published" && p.processingState === "moderation";
        const name = platforms.find((x) => x.platform === p.platform)?.name || p.platform;
        return element(
          "span",
          { class: `status ${moderated ? "publishing" : p.status}`, "data-summary-platform": p.platform },
          `${name}: ${moderated ? "на модерации" : STATUS[p.status] || p.status}`,
        );
      }),
    );
  }
}

async function renderPublications() {
  const items = (await api("GET", "/publications?limit=100")).items;
  latestPublications = items;
  showClipSummaries();
  $("#no-publications").hidden = items.length > 0;
  $("#publications tbody").replaceChildren(
    ...items.flatMap((p) => [publicationRow(p), detailsRow(p, PUBLICATION_COLUMNS)].filter(Boolean)),
  );
  withLabels($("#publications"));
}

function publicationRow(p) {
  return element(
    "tr",
    { "data-publication": p.id, "data-status": p.status },
    element("td", {}, p.clipId),
    element("td", {}, platforms.find((x) => x.platform === p.platform)?.name || p.platform),
    element(
      "td",
      {},
      // Rutube has the video but its moderators have not let it out yet: not «опубликовано».
      p.status === "published" && p.processingState === "moderation"
        ? element("span", { class: "status publishing", "data-moderation": true }, "на модерации")
        : status(p.status),
      p.status === "publishing" && p.processingState ? element("div", { class: "muted", "data-processing": true }, p.processingState) : null,
      p.publishedAs === "video" && p.format === "clip" ? element("div", { class: "warning", "data-published-as": true }, "опубликовано как видео, а не как клип") : null,
      ...(p.notices || []).map((text) => element("div", { class: "warning", "data-publication-notice": true }, text)),
      p.error ? element("div", { class: "platform-error", "data-error": true }, p.error.message) : null,
      p.error?.code === "DZEN_PUBLISH_MANUALLY"
        ? element("div", {}, element("a", { href: DZEN_STUDIO, target: "_blank", rel: "noopener noreferrer", "data-dzen-studio": true }, "Открыть студию Дзена"))
        : null,
    ),
    element("td", {}, whenOf(p)),
    element("td", {}, safeLink(p.post?.url)),
    element("td", {}, statsCell(p)),
    element(
      "td",
      { class: "actions" },
      detailsButton(p),
      p.status === "scheduled" ? element("button", { type: "button", "data-cancel": p.id, onclick: () => act(p, "cancel") }, "Отменить") : null,
      p.status === "failed" ? element("button", { type: "button", "data-retry": p.id, onclick: () => act(p, "retry") }, "Повторить") : null,
    ),
  );
}

async function act(publication, action) {
  // Cancelling cannot be undone (the publication would be created again): asked first.
  if (action === "cancel" && !window.confirm(`Отменить публикацию «${publication.title}»? Это нельзя отменить.`)) return;
  await guarded(async () => {
    await api("POST", `/publications/${publication.id}/${action}`);
    announce(action === "cancel" ? `Публикация «${publication.title}» отменена` : `Публикация «${publication.title}» отправлена снова`);
    await renderPublications();
  });
}

// -- start ----------------------------------------------------------------------------------

async function refresh() {
  await guarded(async () => {
    await renderPlatforms();
    await renderClips();
    await renderPublications();
    await renderWebhooks();
  });
}

function showSignIn() {
  forgetSecret();
  $("#workspace").hidden = true;
  $("#sign-out").hidden = true;
  $("#sign-in").hidden = false;
  $("#who").textContent = "";
}

async function showWorkspace() {
  const claims = token.claims();
  $("#who").textContent = `${claims.sub} · тариф ${claims.plan || "free"}`;
  $("#sign-in").hidden = true;
  $("#sign-out").hidden = false;
  $("#workspace").hidden = false;
  await finishOAuth();
  await refresh();
}

async function start() {
  const config = await loadConfig();
  consoleConfig = config;
  if (config.signIn === "oidc") await guarded(finishOidcSignIn);
  for (const button of document.querySelectorAll("[data-close]")) button.addEventListener("click", (e) => e.target.closest("dialog").close());
  $("#publish-form").addEventListener("submit", submitPublish);
  $("#connect-form").addEventListener("submit", submitConnect);
  $("#disconnect-form").addEventListener("submit", submitDisconnect);
  $("#destination-form").addEventListener("submit", submitDestination);
  setupWebhooks({ guarded });
  $("#sign-out").addEventListener("click", () => {
    token.clear();
    showSignIn();
  });
  $("#sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    await guarded(async () => {
      if (config.signIn === "local") await signInLocally(data.get("user"), data.get("plan"));
      else return signInWithOidc();
      await showWorkspace();
    });
  });
  if (token.claims()) await showWorkspace();
  else showSignIn();
  let polls = 0;
  setInterval(() => {
    if ($("#workspace").hidden || document.querySelector("dialog[open]")) return;
    guarded(renderClips);
    guarded(renderPublications);
    if (++polls % WEBHOOK_POLLS === 0) guarded(renderWebhooks);
  }, POLL_MS);
}

window.addEventListener("unhandledrejection", (event) => showError(event.reason));
start().catch(showError);
