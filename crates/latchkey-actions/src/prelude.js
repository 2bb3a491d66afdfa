// Latchkey Actions prelude, an ES module whose default export receives the Rust host functions
// and returns `{start, describe}`. It is compiled to bytecode once per process and loaded into
// every fresh context (parsing it each time cost about a millisecond per execution).
//
// The host functions only take and return strings (JSON), so no JavaScript object is ever held
// by Rust code: that keeps QuickJS's garbage collector consistent when the runtime is freed.
// Everything the action can reach (`console`, `fetch`, `require("auth0")`, `api`) is built here
// on top of those four functions; nothing else in the context has any I/O.
export default function latchkeyPrelude(host) {
  // Captured before the action runs, so an action that replaces globals only hurts itself.
  const hostLog = host.log;
  const hostRecord = host.record;
  const hostCall = host.call;
  const hostFetch = host.fetch;
  const jsonStringify = JSON.stringify;
  const jsonParse = JSON.parse;
  const defineProperty = Object.defineProperty;
  const objectKeys = Object.keys;
  const hasOwn = Object.prototype.hasOwnProperty;
  const isArray = Array.isArray;
  const PromiseCtor = Promise;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const dateNow = Date.now;

  const CACHE_DEFAULT_TTL_MS = 15 * 60 * 1000;
  const CACHE_MAX_TTL_MS = 24 * 60 * 60 * 1000;
  const CACHE_MAX_VALUE_BYTES = 2048;
  const CACHE_MAX_KEY_BYTES = 256;

  // `null`/`undefined` become '' rather than 'undefined' in reasons, urls and names.
  function str(value) {
    return value === undefined || value === null ? '' : String(value);
  }

  function utf8Length(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        n += 4;
        i++;
      } else n += 3;
    }
    return n;
  }

  // ---- formatting (console and failure messages) ----------------------------------------

  // Like Node: the stack (which in Node starts with `Name: message`) plus the error's own
  // enumerable properties (`statusCode`, `error`, … on SDK errors).
  function describe(err) {
    if (!(err instanceof ErrorCtor)) {
      if (typeof err === 'string') return err;
      return formatArg(err);
    }
    let head;
    try {
      head = String(err);
    } catch (_) {
      head = 'Error';
    }
    let out = head;
    let stack;
    try {
      stack = err.stack;
    } catch (_) {
      stack = undefined;
    }
    if (typeof stack === 'string' && stack.length > 0) {
      out = stack.startsWith(head) ? stack : head + '\n' + stack;
    }
    out = out.replace(/\s+$/, '');
    try {
      const keys = objectKeys(err);
      if (keys.length > 0) {
        const extra = {};
        for (const k of keys) extra[k] = err[k];
        const json = jsonStringify(extra);
        if (json !== undefined && json !== '{}') out += ' ' + json;
      }
    } catch (_) {
      // best effort only
    }
    return out;
  }

  function formatArg(value) {
    if (typeof value === 'string') return value;
    if (value instanceof ErrorCtor) return describe(value);
    if (value === undefined) return 'undefined';
    if (typeof value === 'function') return '[Function: ' + (value.name || '(anonymous)') + ']';
    if (typeof value === 'symbol' || typeof value === 'bigint') {
      try {
        return String(value);
      } catch (_) {
        return '[unprintable]';
      }
    }
    try {
      const json = jsonStringify(value);
      if (json !== undefined) return json;
    } catch (_) {
      // cycles, BigInt inside objects, throwing toJSON: fall back to String()
    }
    try {
      return String(value);
    } catch (_) {
      return '[unprintable]';
    }
  }

  // `console.log('%s has %d', a, b)` substitutions, then the rest joined by spaces.
  function formatArgs(args) {
    if (args.length > 1 && typeof args[0] === 'string' && args[0].indexOf('%') !== -1) {
      let i = 1;
      const first = args[0].replace(/%[sdifjoOc%]/g, function (m) {
        if (m === '%%') return '%';
        if (i >= args.length) return m;
        const a = args[i++];
        switch (m) {
          case '%s':
            return typeof a === 'string' ? a : formatArg(a);
          case '%d':
            return String(Number(a));
          case '%i':
            return String(parseInt(a, 10));
          case '%f':
            return String(parseFloat(a));
          case '%c':
            return '';
          default:
            return formatArg(a);
        }
      });
      const rest = [];
      for (; i < args.length; i++) rest.push(formatArg(args[i]));
      return rest.length > 0 ? first + ' ' + rest.join(' ') : first;
    }
    const parts = [];
    for (let j = 0; j < args.length; j++) parts.push(formatArg(args[j]));
    return parts.join(' ');
  }

  const consoleObject = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
    consoleObject[level] = function () {
      let line;
      try {
        line = formatArgs(Array.prototype.slice.call(arguments));
      } catch (_) {
        line = '[unprintable]';
      }
      hostLog(line);
    };
  }
  globalThis.console = consoleObject;

  // ---- fetch ------------------------------------------------------------------------------

  function makeResponse(r) {
    const list = r.headers;
    const headers = {
      get(name) {
        const n = String(name).toLowerCase();
        const values = [];
        for (const h of list) if (h[0] === n) values.push(h[1]);
        return values.length > 0 ? values.join(', ') : null;
      },
      has(name) {
        const n = String(name).toLowerCase();
        for (const h of list) if (h[0] === n) return true;
        return false;
      },
      forEach(callback) {
        for (const h of list) callback(h[1], h[0], headers);
      },
      entries() {
        return list.map((h) => [h[0], h[1]])[Symbol.iterator]();
      },
    };
    let used = false;
    const consume = function () {
      if (used) return PromiseCtor.reject(new TypeErrorCtor('Body is unusable: Body has already been read'));
      used = true;
      return PromiseCtor.resolve(r.body);
    };
    return {
      ok: r.status >= 200 && r.status < 300,
      status: r.status,
      statusText: r.statusText,
      url: r.url,
      redirected: false,
      headers,
      get bodyUsed() {
        return used;
      },
      text: consume,
      json() {
        return consume().then((body) => jsonParse(body));
      },
    };
  }

  function fetch(input, init) {
    return new PromiseCtor(function (resolve, reject) {
      const options = init || {};
      const url = input !== null && typeof input === 'object' && 'url' in input ? String(input.url) : String(input);
      const method = options.method === undefined ? 'GET' : String(options.method).toUpperCase();
      const headers = [];
      const h = options.headers;
      if (h) {
        if (isArray(h)) {
          for (const pair of h) headers.push([String(pair[0]), String(pair[1])]);
        } else if (typeof h.forEach === 'function' && !(h.constructor === Object)) {
          h.forEach(function (v, k) {
            headers.push([String(k), String(v)]);
          });
        } else {
          for (const k of objectKeys(h)) headers.push([k, String(h[k])]);
        }
      }
      const body = options.body === undefined || options.body === null ? null : String(options.body);
      const reply = jsonParse(hostFetch(jsonStringify({ url, method, headers, body })));
      if (reply.error) {
        const Ctor = reply.error.name === 'TypeError' ? TypeErrorCtor : ErrorCtor;
        reject(new Ctor(reply.error.message));
        return;
      }
      resolve(makeResponse(reply.ok));
    });
  }
  globalThis.fetch = fetch;

  // ---- require("auth0") -------------------------------------------------------------------

  // Shaped like the SDK's errors: `err.statusCode`, `err.error`, `err.message` (and v4's
  // `err.body`, a JSON string).
  function sdkError(e) {
    const err = new ErrorCtor(str(e.message));
    err.statusCode = e.status;
    err.error = e.error;
    err.body = jsonStringify({ statusCode: e.status, error: e.error, message: e.message });
    return err;
  }

  function callHost(method, credentials, args) {
    return new PromiseCtor(function (resolve, reject) {
      const reply = jsonParse(hostCall(jsonStringify({ method, credentials, args })));
      if (hasOwn.call(reply, 'ok')) resolve(reply.ok);
      else if (reply.error) reject(sdkError(reply.error));
      else reject(new ErrorCtor(str(reply.fail) || 'the Management API call failed'));
    });
  }

  // node-auth0 v4 resolves namespaced calls with `{data, status, headers, …}`; v5 resolves with
  // the body itself. To serve callers written for either, namespaced calls resolve with the
  // body object, given non-enumerable `data` (the body again), `status` and `headers`
  // properties: `res.data.ticket` and `res.ticket` both work, and JSON.stringify(res) shows
  // only the body. (If the body already has its own `data` field, it is left alone.)
  function asResponse(body, status) {
    if (body === null || typeof body !== 'object') return { data: body, status, headers: {} };
    const hidden = { enumerable: false, configurable: true, writable: true };
    if (!hasOwn.call(body, 'data')) defineProperty(body, 'data', Object.assign({ value: body }, hidden));
    if (!hasOwn.call(body, 'status')) defineProperty(body, 'status', Object.assign({ value: status }, hidden));
    if (!hasOwn.call(body, 'headers')) defineProperty(body, 'headers', Object.assign({ value: {} }, hidden));
    return body;
  }

  const CREATED = { 'tickets.changePassword': 201 };

  class ManagementClient {
    constructor(options) {
      const o = options !== null && typeof options === 'object' ? options : {};
      const credentials = {
        domain: str(o.domain),
        clientId: str(o.clientId),
        clientSecret: str(o.clientSecret),
        scope: o.scope === undefined || o.scope === null ? null : String(o.scope),
      };
      // Kept for code that reads them back; not enumerable so logging the client stays quiet.
      defineProperty(this, 'options', { value: Object.assign({}, o), enumerable: false });

      // node-auth0 v2/v3: promise, or a node-style callback as the last argument.
      const legacy = (method, arity) =>
        function () {
          const args = Array.prototype.slice.call(arguments);
          const callback = typeof args[args.length - 1] === 'function' ? args.pop() : null;
          const promise = callHost(method, credentials, args.slice(0, arity));
          if (callback) {
            promise.then(
              (result) => callback(null, result),
              (err) => callback(err),
            );
            return undefined;
          }
          return promise;
        };
      // node-auth0 v4/v5 namespaced managers.
      const namespaced = (method, arity) =>
        function () {
          const args = Array.prototype.slice.call(arguments, 0, arity);
          return callHost(method, credentials, args).then((body) => asResponse(body, CREATED[method] || 200));
        };

      this.createPasswordChangeTicket = legacy('createPasswordChangeTicket', 1);
      this.getUser = legacy('getUser', 1);
      this.getUsers = legacy('getUsers', 1);
      this.updateUser = legacy('updateUser', 2);
      this.getUsersByEmail = legacy('getUsersByEmail', 1);

      this.tickets = { changePassword: namespaced('tickets.changePassword', 1) };
      this.users = {
        get: namespaced('users.get', 1),
        getAll: namespaced('users.getAll', 1),
        update: namespaced('users.update', 2),
      };
      this.usersByEmail = { getByEmail: namespaced('usersByEmail.getByEmail', 1) };
    }
  }

  const auth0Module = Object.freeze({ ManagementClient });

  function require(name) {
    if (name === 'auth0') return auth0Module;
    const err = new ErrorCtor("Cannot find module '" + String(name) + "'");
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }

  // ---- api --------------------------------------------------------------------------------

  function buildCache(entries, record) {
    const store = new Map();
    for (const key of objectKeys(entries)) store.set(key, entries[key]);
    const live = (key) => {
      const entry = store.get(key);
      if (entry === undefined) return undefined;
      if (entry.expires_at <= dateNow()) {
        store.delete(key);
        return undefined;
      }
      return entry;
    };
    return {
      get(key) {
        const entry = live(String(key));
        return entry === undefined ? undefined : { value: entry.value, expires_at: entry.expires_at };
      },
      set(key, value, options) {
        if (typeof key !== 'string' || key.length === 0 || utf8Length(key) > CACHE_MAX_KEY_BYTES) {
          return { type: 'error', code: 'INVALID_KEY' };
        }
        if (typeof value !== 'string') return { type: 'error', code: 'INVALID_VALUE' };
        if (utf8Length(value) > CACHE_MAX_VALUE_BYTES) return { type: 'error', code: 'VALUE_TOO_LARGE' };
        const o = options || {};
        const now = dateNow();
        let expiresAt;
        if (o.expires_at !== undefined && o.expires_at !== null) {
          expiresAt = Number(o.expires_at);
          if (!(expiresAt > now)) return { type: 'error', code: 'INVALID_EXPIRY' };
        } else if (o.ttl !== undefined && o.ttl !== null) {
          const ttl = Number(o.ttl);
          if (!(ttl > 0)) return { type: 'error', code: 'INVALID_TTL' };
          expiresAt = now + ttl;
        } else {
          expiresAt = now + CACHE_DEFAULT_TTL_MS;
        }
        expiresAt = Math.floor(Math.min(expiresAt, now + CACHE_MAX_TTL_MS));
        const entry = { value, expires_at: expiresAt };
        store.set(key, entry);
        record({ kind: 'cache_set', key, value, expires_at: expiresAt });
        return { type: 'success', record: { value, expires_at: expiresAt } };
      },
      delete(key) {
        const k = String(key);
        store.delete(k);
        record({ kind: 'cache_delete', key: k });
        return { type: 'success' };
      },
    };
  }

  function factorTypes(list) {
    const out = [];
    if (!isArray(list)) return out;
    for (const f of list) {
      if (typeof f === 'string') out.push(f);
      else if (f !== null && typeof f === 'object' && f.type !== undefined) out.push(String(f.type));
    }
    return out;
  }

  function queryPairs(query) {
    const pairs = [];
    if (query === null || typeof query !== 'object') return pairs;
    for (const k of objectKeys(query)) {
      const v = query[k];
      if (v === undefined) continue;
      pairs.push([k, typeof v === 'object' && v !== null ? jsonStringify(v) : String(v)]);
    }
    return pairs;
  }

  function buildApi(trigger, cacheEntries) {
    const api = {};
    // Every api method returns `api`, as Auth0's do.
    const record = (r) => {
      hostRecord(jsonStringify(r));
      return api;
    };
    const challenge = {
      challengeWith(factor, options) {
        const additional = options !== null && typeof options === 'object' ? options.additionalFactors : undefined;
        return record({ kind: 'challenge_with', factors: factorTypes([factor].concat(isArray(additional) ? additional : [])) });
      },
      challengeWithAny(factors) {
        return record({ kind: 'challenge_with', factors: factorTypes(factors) });
      },
    };
    const access = {
      deny(reason) {
        return record({ kind: 'deny', reason: str(reason) });
      },
    };
    api.cache = buildCache(cacheEntries, (r) => {
      hostRecord(jsonStringify(r));
    });
    if (trigger === 'post-login') {
      api.access = access;
      api.authentication = challenge;
      api.redirect = {
        sendUserTo(url, options) {
          const query = options !== null && typeof options === 'object' ? options.query : undefined;
          return record({ kind: 'redirect', url: str(url), query: queryPairs(query) });
        },
      };
      api.idToken = {
        setCustomClaim(name, value) {
          return record({ kind: 'id_token_claim', name: str(name), value });
        },
      };
      api.accessToken = {
        setCustomClaim(name, value) {
          return record({ kind: 'access_token_claim', name: str(name), value });
        },
      };
      api.multifactor = {
        enable(provider, options) {
          return record({ kind: 'enable_multifactor', provider: str(provider) });
        },
      };
      api.user = {
        setAppMetadata(name, value) {
          return record({ kind: 'set_app_metadata', name: str(name), value: value === undefined ? null : value });
        },
        setUserMetadata(name, value) {
          return record({ kind: 'set_user_metadata', name: str(name), value: value === undefined ? null : value });
        },
      };
    } else if (trigger === 'password-reset-post-challenge') {
      api.access = access;
      api.authentication = challenge;
    }
    return api;
  }

  // ---- entry point ------------------------------------------------------------------------

  // Loads the CommonJS module and runs its handler; the returned promise settles when the
  // handler's does. A module without the handler completes with nothing to do.
  async function start(moduleFn, eventJson, secretsJson, trigger, handlerName, cacheJson) {
    let event = jsonParse(eventJson);
    if (event === null || typeof event !== 'object' || isArray(event)) event = {};
    event.secrets = jsonParse(secretsJson);
    const api = buildApi(trigger, jsonParse(cacheJson));
    const module = { exports: {} };
    moduleFn.call(module.exports, module.exports, module, require);
    const exported = module.exports;
    const handler = exported === null || exported === undefined ? undefined : exported[handlerName];
    if (typeof handler !== 'function') return;
    await handler(event, api);
  }

  // For the failure message: `null` only when even `String(err)` failed, which (since the
  // action's own getters and toString are guarded above) means the heap is exhausted.
  function describeReason(err) {
    try {
      return describe(err);
    } catch (_) {
      try {
        return String(err);
      } catch (_) {
        return null;
      }
    }
  }

  // ---- custom-database scripts -----------------------------------------------------------

  // Auth0's error types for custom-database scripts; the callback reports `name` and `message`.
  class WrongUsernameOrPasswordError extends ErrorCtor {
    constructor(emailOrUserId, message) {
      super(message === undefined || message === null ? 'Wrong email or password.' : String(message));
      this.user_id = emailOrUserId;
    }
  }
  class ValidationError extends ErrorCtor {
    constructor(code, message) {
      super(message === undefined || message === null ? str(code) : String(message));
      this.code = code;
    }
  }
  class UnauthorizedError extends ErrorCtor {
    constructor(message) {
      super(message === undefined || message === null ? 'Unauthorized' : String(message));
    }
  }
  for (const [Ctor, name] of [
    [WrongUsernameOrPasswordError, 'WrongUsernameOrPasswordError'],
    [ValidationError, 'ValidationError'],
    [UnauthorizedError, 'UnauthorizedError'],
  ]) {
    defineProperty(Ctor.prototype, 'name', { value: name, writable: true, configurable: true });
  }

  // What `callback(err)` reports: the error's name and message, read defensively.
  function scriptError(err) {
    let name = 'Error';
    let message;
    try {
      if (err !== null && (typeof err === 'object' || typeof err === 'function')) {
        if (err.name) name = String(err.name);
        if (err.message) message = String(err.message);
      }
    } catch (_) {
      // getters that throw: fall back to the defaults
    }
    if (message === undefined) {
      try {
        message = String(err);
      } catch (_) {
        message = '[unprintable]';
      }
    }
    return { name, message };
  }

  // Runs a custom-database script: `scriptFn` is the script wrapped in a function that returns
  // the function named `name` (or `undefined`). Returns `null` when the script has no such
  // function, or a promise that resolves with the JSON of the first callback call
  // (`{"value": …}` or `{"error": {name, message}}`) and rejects if the function throws (or
  // returns a promise that rejects) before calling back.
  function startScript(scriptFn, configurationJson, name, argsJson) {
    globalThis.configuration = jsonParse(configurationJson);
    globalThis.WrongUsernameOrPasswordError = WrongUsernameOrPasswordError;
    globalThis.ValidationError = ValidationError;
    globalThis.UnauthorizedError = UnauthorizedError;
    globalThis.require = require;
    // A global of the same name (`fetch`, `eval`, …) is not the script's own function.
    const inherited = globalThis[name];
    let fn;
    try {
      fn = scriptFn.call(undefined);
    } catch (err) {
      return PromiseCtor.reject(err);
    }
    if (typeof fn !== 'function' || (inherited !== undefined && fn === inherited)) return null;
    let args = jsonParse(argsJson);
    if (!isArray(args)) args = [];
    return new PromiseCtor(function (resolve, reject) {
      let done = false;
      const callback = function (err, value) {
        if (done) return;
        done = true;
        if (err) {
          resolve(jsonStringify({ error: scriptError(err) }));
          return;
        }
        let json;
        try {
          json = value === undefined ? 'null' : jsonStringify(value);
        } catch (e) {
          reject(new TypeErrorCtor("the value passed to the script's callback is not JSON: " + scriptError(e).message));
          return;
        }
        resolve('{"value":' + (json === undefined ? 'null' : json) + '}');
      };
      const returned = fn.apply(undefined, args.concat([callback]));
      // `async function login(…)` that throws before calling back.
      if (returned !== null && typeof returned === 'object' && typeof returned.then === 'function') {
        returned.then(undefined, function (err) {
          if (done) return;
          done = true;
          reject(err);
        });
      }
    });
  }

  return { start, startScript, describe: describeReason };
}
