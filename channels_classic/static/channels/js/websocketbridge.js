/*
 * websocketbridge.js: the Channels 1.x JavaScript client for channels_classic.
 *
 *   <script src="{% static 'channels/js/websocketbridge.js' %}"></script>
 *   <script>
 *     const bridge = new channels.WebSocketBridge();
 *     bridge.connect('/ws/');                       // ws(s)://<this host>/ws/
 *     bridge.listen(function (action, stream) { ... });
 *     bridge.demultiplex('mystream', function (payload, stream) { ... });
 *     bridge.send({prop: 'value'});                 // JSON text frame
 *     bridge.stream('mystream').send({prop: 'value'});  // {"stream": ..., "payload": ...}
 *     bridge.socket.addEventListener('open', function () { ... });
 *   </script>
 *
 * bridge.socket is a ReconnectingWebSocket: it behaves like a WebSocket whose listeners
 * survive reconnections.  When the server closes the connection (or it drops), it reconnects
 * after a growing, jittered delay; messages sent while it is not open are queued (up to
 * maxQueuedMessages) and sent, in order, as soon as it opens again.  Only close() called by
 * the page stops it.
 *
 * Frames that are not JSON (binary frames, or text that does not parse) are never passed to
 * the listen/demultiplex callbacks: they go to the bridge's onInvalidMessage(data, error)
 * option, or are reported with console.warn.
 *
 * Loads as a plain script (global `channels`), a CommonJS module or an AMD module.
 */
(function (root, factory) {
  'use strict';
  if (typeof define === 'function' && define.amd) {
    define([], factory);
  } else if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.channels = factory();
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  var CONNECTING = 0;
  var OPEN = 1;
  var CLOSING = 2;
  var CLOSED = 3;

  /* The option names and defaults of reconnecting-websocket 3.x, which Channels 1.x used. */
  var DEFAULTS = {
    minReconnectionDelay: 1500,       // ms before the first reconnection attempt
    maxReconnectionDelay: 10000,      // ms, the cap of the growing delay
    reconnectionDelayGrowFactor: 1.3, // each failed attempt multiplies the delay by this
    connectionTimeout: 4000,          // ms an attempt may take to open before it is retried
    maxRetries: Infinity,             // attempts in a row before giving up (CLOSED)
    maxQueuedMessages: 1000,          // messages kept while disconnected; the oldest go first
    debug: false
  };
  /* A random share of the delay added to it, so many clients do not reconnect in lockstep. */
  var JITTER = 0.2;
  var EVENT_TYPES = ['open', 'message', 'close', 'error'];

  function assign(target) {
    for (var i = 1; i < arguments.length; i++) {
      var source = arguments[i] || {};
      for (var key in source) {
        if (Object.prototype.hasOwnProperty.call(source, key)) {
          target[key] = source[key];
        }
      }
    }
    return target;
  }

  /**
   * A WebSocket that reconnects by itself and queues what is sent while it is down.
   *
   * @param {string} url - ws:// or wss:// URL.
   * @param {string|string[]} [protocols] - WebSocket subprotocols.
   * @param {object} [options] - see DEFAULTS.
   */
  function ReconnectingWebSocket(url, protocols, options) {
    this.url = url;
    this.protocols = protocols;
    this.options = assign({}, DEFAULTS, options);
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    this._listeners = {open: [], message: [], close: [], error: []};
    this._queue = [];
    this._ws = null;
    this._retries = 0;
    this._binaryType = 'blob';
    this._closedByPage = false;
    this._gaveUp = false;
    this._reconnectTimer = null;
    this._openTimer = null;
    this._connect();
  }

  ReconnectingWebSocket.CONNECTING = ReconnectingWebSocket.prototype.CONNECTING = CONNECTING;
  ReconnectingWebSocket.OPEN = ReconnectingWebSocket.prototype.OPEN = OPEN;
  ReconnectingWebSocket.CLOSING = ReconnectingWebSocket.prototype.CLOSING = CLOSING;
  ReconnectingWebSocket.CLOSED = ReconnectingWebSocket.prototype.CLOSED = CLOSED;

  Object.defineProperties(ReconnectingWebSocket.prototype, {
    /* CONNECTING while (re)connecting or waiting to, CLOSED once closed for good. */
    readyState: {
      get: function () {
        if (this._closedByPage || this._gaveUp) {
          return this._ws ? this._ws.readyState : CLOSED;
        }
        return this._ws && this._ws.readyState === OPEN ? OPEN : CONNECTING;
      }
    },
    protocol: {get: function () { return this._ws ? this._ws.protocol : ''; }},
    extensions: {get: function () { return this._ws ? this._ws.extensions : ''; }},
    bufferedAmount: {get: function () { return this._ws ? this._ws.bufferedAmount : 0; }},
    /* How many messages wait for the connection to open. */
    queuedMessages: {get: function () { return this._queue.length; }},
    binaryType: {
      get: function () { return this._binaryType; },
      set: function (value) {
        this._binaryType = value;
        if (this._ws) { this._ws.binaryType = value; }
      }
    }
  });

  ReconnectingWebSocket.prototype._log = function () {
    if (this.options.debug && typeof console !== 'undefined') {
      console.log.apply(console, ['ReconnectingWebSocket:'].concat([].slice.call(arguments)));
    }
  };

  ReconnectingWebSocket.prototype._connect = function () {
    var self = this;
    this._reconnectTimer = null;
    this._log('connecting to', this.url, 'attempt', this._retries + 1);
    var ws = this.protocols === undefined
      ? new WebSocket(this.url) : new WebSocket(this.url, this.protocols);
    ws.binaryType = this._binaryType;
    this._ws = ws;
    this._openTimer = setTimeout(function () {
      // The attempt hangs (no answer, no error): drop it and try again.
      self._log('connection timeout');
      ws.close();
    }, this.options.connectionTimeout);
    ws.onopen = function (event) {
      if (ws !== self._ws) { return; }
      clearTimeout(self._openTimer);
      self._retries = 0;
      self._flush();
      self._dispatch('open', event);
    };
    ws.onmessage = function (event) {
      if (ws !== self._ws) { return; }
      self._dispatch('message', event);
    };
    ws.onerror = function (event) {
      if (ws !== self._ws) { return; }
      self._dispatch('error', event);
    };
    ws.onclose = function (event) {
      if (ws !== self._ws) { return; }
      clearTimeout(self._openTimer);
      self._dispatch('close', event);
      if (!self._closedByPage) { self._scheduleReconnect(); }
    };
  };

  ReconnectingWebSocket.prototype._nextDelay = function () {
    var o = this.options;
    var delay = Math.min(
      o.maxReconnectionDelay,
      o.minReconnectionDelay * Math.pow(o.reconnectionDelayGrowFactor, this._retries));
    return Math.round(delay * (1 + JITTER * Math.random()));
  };

  ReconnectingWebSocket.prototype._scheduleReconnect = function () {
    var self = this;
    if (this._retries >= this.options.maxRetries) {
      this._gaveUp = true;
      this._log('giving up after', this._retries, 'attempts');
      return;
    }
    var delay = this._nextDelay();
    this._retries += 1;
    this._log('reconnecting in', delay, 'ms');
    this._reconnectTimer = setTimeout(function () { self._connect(); }, delay);
  };

  ReconnectingWebSocket.prototype._flush = function () {
    while (this._queue.length && this._ws && this._ws.readyState === OPEN) {
      this._ws.send(this._queue.shift());
    }
  };

  ReconnectingWebSocket.prototype._dispatch = function (type, event) {
    var handler = this['on' + type];
    if (typeof handler === 'function') {
      handler.call(this, event);
    }
    var listeners = this._listeners[type].slice();
    for (var i = 0; i < listeners.length; i++) {
      listeners[i].call(this, event);
    }
  };

  /** Send now if open, else queue until the connection (re)opens. */
  ReconnectingWebSocket.prototype.send = function (data) {
    if (this._closedByPage || this._gaveUp) {
      throw new Error('ReconnectingWebSocket is closed; call reconnect() first');
    }
    if (this._ws && this._ws.readyState === OPEN) {
      this._ws.send(data);
      return;
    }
    this._queue.push(data);
    if (this._queue.length > this.options.maxQueuedMessages) {
      this._queue.shift();
      if (typeof console !== 'undefined') {
        console.warn('ReconnectingWebSocket: more than ' + this.options.maxQueuedMessages +
                     ' messages queued while disconnected; dropped the oldest');
      }
    }
  };

  /** Close for good (no reconnection); queued messages are discarded. */
  ReconnectingWebSocket.prototype.close = function (code, reason) {
    this._closedByPage = true;
    this._queue = [];
    clearTimeout(this._reconnectTimer);
    clearTimeout(this._openTimer);
    if (this._ws && this._ws.readyState < CLOSING) {
      this._ws.close(code === undefined ? 1000 : code, reason);
    }
  };

  /** Close the current connection (if any) and connect again at once. */
  ReconnectingWebSocket.prototype.reconnect = function () {
    var old = this._ws;
    this._closedByPage = false;
    this._gaveUp = false;
    this._retries = 0;
    clearTimeout(this._reconnectTimer);
    clearTimeout(this._openTimer);
    this._ws = null;
    if (old && old.readyState < CLOSING) { old.close(1000); }
    this._connect();
  };

  ReconnectingWebSocket.prototype.addEventListener = function (type, listener) {
    if (EVENT_TYPES.indexOf(type) >= 0 && this._listeners[type].indexOf(listener) < 0) {
      this._listeners[type].push(listener);
    }
  };

  ReconnectingWebSocket.prototype.removeEventListener = function (type, listener) {
    if (EVENT_TYPES.indexOf(type) >= 0) {
      this._listeners[type] = this._listeners[type].filter(function (l) {
        return l !== listener;
      });
    }
  };

  /**
   * The Channels 1.x bridge: JSON messages, optionally multiplexed into streams.
   *
   * @param {object} [options] - onInvalidMessage(data, error): called for frames that are
   *   not JSON (default: console.warn).
   */
  function WebSocketBridge(options) {
    this.socket = null;
    this.streams = {};
    this.default_cb = null;
    this.options = assign({}, options);
  }

  /**
   * Connect (and keep reconnecting) to url: absolute (ws://, wss://), a path on this host
   * ('/ws/'), or this host's root when omitted.
   */
  WebSocketBridge.prototype.connect = function (url, protocols, options) {
    var self = this;
    var scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    var base = scheme + '://' + window.location.host;
    var target;
    if (url === undefined) {
      target = base;
    } else if (url.charAt(0) === '/') {
      target = base + url;
    } else {
      target = url;
    }
    if (this.socket) {
      this.socket.close();  // connecting again replaces the previous connection
    }
    this.socket = new ReconnectingWebSocket(target, protocols, options);
    this.socket.addEventListener('message', function (event) { self._receive(event); });
    return this.socket;
  };

  WebSocketBridge.prototype._receive = function (event) {
    var message;
    if (typeof event.data !== 'string') {
      this._invalid(event.data, new Error('binary frame'));
      return;
    }
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      this._invalid(event.data, error);
      return;
    }
    if (message !== null && typeof message === 'object' && message.stream !== undefined) {
      var handler = this.streams[message.stream];
      if (handler) {
        handler(message.payload, message.stream);
      }
    } else if (this.default_cb) {
      this.default_cb(message, null);
    }
  };

  WebSocketBridge.prototype._invalid = function (data, error) {
    if (typeof this.options.onInvalidMessage === 'function') {
      this.options.onInvalidMessage(data, error);
    } else if (typeof console !== 'undefined') {
      console.warn('WebSocketBridge: ignored a frame that is not JSON (' + error.message + ')');
    }
  };

  /** Call cb(message, null) for every JSON frame that is not on a stream. */
  WebSocketBridge.prototype.listen = function (cb) {
    this.default_cb = cb || null;
  };

  /** Call cb(payload, stream) for every frame {"stream": stream, "payload": payload}. */
  WebSocketBridge.prototype.demultiplex = function (stream, cb) {
    this.streams[stream] = cb;
  };

  WebSocketBridge.prototype._socket = function () {
    if (!this.socket) {
      throw new Error('WebSocketBridge: call connect() before send()');
    }
    return this.socket;
  };

  /** Send msg as a JSON text frame (queued while disconnected). */
  WebSocketBridge.prototype.send = function (msg) {
    this._socket().send(JSON.stringify(msg));
  };

  /** A sender for one stream: stream(name).send(payload). */
  WebSocketBridge.prototype.stream = function (name) {
    var self = this;
    return {
      send: function (payload) {
        self._socket().send(JSON.stringify({stream: name, payload: payload}));
      }
    };
  };

  return {
    WebSocketBridge: WebSocketBridge,
    ReconnectingWebSocket: ReconnectingWebSocket
  };
}));
