// The HTTP API with the user's bearer token; every failure becomes an Error with a message in words.

const TOKEN_KEY = "autopost.token";

// "In 8 minutes" from a Retry-After (seconds), in words.
export function waitInWords(seconds) {
  if (!(seconds > 0)) return "";
  if (seconds < 60) return `Попробуйте через ${Math.ceil(seconds)} с`;
  return `Попробуйте через ${Math.ceil(seconds / 60)} мин`;
}

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const error = (body && body.error) || {};
    let message = error.message || body?.message || `Ошибка сервера (${status})`;
    const wait = Number(retryAfter || error.details?.retryAfterSeconds);
    if (status === 429 && wait > 0) message = `${message.replace(/,? ?попробуйте позже\.?$/i, "")}. ${waitInWords(wait)}`;
    super(message);
    this.status = status;
    this.code = error.code || "HTTP_" + status;
    this.details = error.details || {};
  }
}

let config = null;

export async function loadConfig() {
  try {
    const response = await fetch("config.json");
    config = response.ok ? await response.json() : { apiUrl: "", signIn: "oidc" };
  } catch {
    throw new Error("Не удалось загрузить настройки консоли: проверьте соединение и обновите страницу");
  }
  return config;
}

// The session's token lives in this tab only (sessionStorage): not shared with other tabs,
// gone when the tab closes.
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
  claims() {
    const value = this.get();
    if (!value) return null;
    try {
      const payload = JSON.parse(atob(value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      return payload.exp * 1000 > Date.now() ? payload : null;
    } catch {
      return null;
    }
  },
};

export async function api(method, path, body, headers = {}) {
  let response;
  try {
    response = await fetch(config.apiUrl + path, {
      method,
      headers: { Authorization: `Bearer ${token.get()}`, ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, { error: { message: "Сервер недоступен: проверьте соединение и повторите" } });
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (response.status === 401) {
    token.clear();
    throw new ApiError(401, { error: { message: "Сессия истекла: войдите снова" } });
  }
  if (!response.ok) throw new ApiError(response.status, parsed, response.headers.get("Retry-After"));
  return parsed;
}

export async function signInLocally(user, plan) {
  let response;
  try {
    response = await fetch(config.apiUrl + "/local/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user, plan }),
    });
  } catch {
    throw new ApiError(0, { error: { message: "Сервер недоступен: проверьте соединение и повторите" } });
  }
  if (!response.ok) throw new ApiError(response.status, { error: { message: "Не удалось войти: проверьте имя пользователя" } });
  token.set((await response.json()).token);
}

const OIDC_PENDING = "autopost.oidc";

function randomText(bytes = 32) {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return base64url(values);
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function claimsOf(jwt) {
  return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
}

// The OIDC provider behind the JWT authorizer (e.g. Cognito's hosted UI): authorization
// code with PKCE (S256), a state against forged returns and a nonce against replayed tokens.
export async function signInWithOidc() {
  const verifier = randomText(48);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const pending = { verifier, state: randomText(), nonce: randomText() };
  sessionStorage.setItem(OIDC_PENDING, JSON.stringify(pending));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: location.origin + location.pathname,
    scope: "openid",
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`${config.authority}/oauth2/authorize?${query}`);
}

// Back from the OIDC provider: only the state this tab sent is accepted; the code is
// redeemed with the PKCE verifier, and the ID token must carry this tab's nonce.
// Returns false when the return is not a sign-in (it may be a platform's OAuth return).
export async function finishOidcSignIn() {
  const query = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(OIDC_PENDING) || "null");
  if (!pending || !query.get("state") || query.get("state") !== pending.state) return false;
  sessionStorage.removeItem(OIDC_PENDING);
  history.replaceState(null, "", location.pathname);
  if (!query.get("code")) throw new Error("Вход отменён");
  const response = await fetch(`${config.authority}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.clientId,
      code: query.get("code"),
      redirect_uri: location.origin + location.pathname,
      code_verifier: pending.verifier,
    }),
  });
  const tokens = response.ok ? await response.json() : {};
  if (!tokens.id_token || claimsOf(tokens.id_token).nonce !== pending.nonce) {
    throw new Error("Не удалось войти: ответ сервера входа не прошёл проверку, попробуйте ещё раз");
  }
  token.set(tokens.id_token);
  return true;
}
