// The HTTP API with the user's bearer token; every failure becomes an Error with a message in words.

const TOKEN_KEY = "autopost.token";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || body?.message || `Ошибка сервера (${status})`);
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

export const token = {
  get: () => localStorage.getItem(TOKEN_KEY),
  set: (value) => localStorage.setItem(TOKEN_KEY, value),
  clear: () => localStorage.removeItem(TOKEN_KEY),
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

export async function api(method, path, body) {
  let response;
  try {
    response = await fetch(config.apiUrl + path, {
      method,
      headers: { Authorization: `Bearer ${token.get()}`, ...(body ? { "Content-Type": "application/json" } : {}) },
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
  if (!response.ok) throw new ApiError(response.status, parsed);
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

export function signInWithOidc() {
  // The OIDC provider behind the JWT authorizer (e.g. Cognito's hosted UI): README, "Console".
  const redirect = location.origin + location.pathname;
  const query = new URLSearchParams({ response_type: "token", client_id: config.clientId, redirect_uri: redirect, scope: "openid" });
  location.assign(`${config.authority}/oauth2/authorize?${query}`);
}

export function tokenFromRedirect() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const value = fragment.get("id_token");
  if (value) {
    token.set(value);
    history.replaceState(null, "", location.pathname + location.search);
  }
}
