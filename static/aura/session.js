// AURA widget: the realtime connection (OpenAI Realtime events plus AURA's extensions).
//
// Connects to /v1/realtime with `?aura=1&binary=1`: audio travels as binary frames of raw
// PCM16 both ways, control as JSON events. The publishable key goes in the subprotocol
// `openai-insecure-api-key.<key>` (the server checks the page's Origin against the key's
// allowed origins). When the connection drops, it reconnects with the resume token of
// `aura.session.created`, so the conversation continues where it was.
//
// Events dispatched: "status" ({status, reason}), "server-event" (each JSON event),
// "audio" ({itemId, pcm}), "resumed" and "restarted" (a resume was refused: a new session).

const KEY_SUBPROTOCOL = "openai-insecure-api-key.";
// Close codes after which trying again cannot help (docs/api/websocket-api.md).
const FATAL_CLOSE_CODES = new Map([
  [4001, "This widget's key is not valid."],
  [4003, "This widget may not be used on this site."],
  [4029, "The assistant is busy right now; please try again later."],
]);
const ENDED_CLOSE_CODES = new Map([
  [1000, "The conversation has ended."],
  [4008, "The conversation ended after a long silence."],
  [4010, "The conversation reached its maximum length."],
]);
const CLOSE_BAD_REQUEST = 4400;
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];

function browserCancelsEcho() {
  const devices = globalThis.navigator && navigator.mediaDevices;
  return Boolean(devices && devices.getSupportedConstraints?.().echoCancellation);
}

export class RealtimeSession extends EventTarget {
  constructor({ serverUrl, key, agent, user, sessionRate, resumeWindowMs = 120000 }) {
    super();
    this.serverUrl = serverUrl;
    this.key = key;
    this.agent = agent;
    this.user = user;
    this.sessionRate = sessionRate;
    this.resumeWindowMs = resumeWindowMs;
    this.socket = null;
    this.resumeToken = null;
    this.sessionId = null;
    this.audioItemId = null; // the output item that incoming binary audio belongs to
    this.ready = false; // session.updated received: the formats are ours
    this.closedByUs = false;
    this.lastError = null;
    this.droppedAt = null;
    this.attempt = 0;
    this.sentEvents = 0;
    this.stats = { connects: 0, resumes: 0, audioFramesSent: 0, audioFramesReceived: 0 };
  }

  url(resumeToken) {
    const url = new URL("/v1/realtime", this.serverUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("aura", "1");
    url.searchParams.set("binary", "1");
    // The capture asks the browser for echo cancellation (audio.js): where the browser has it,
    // the server's echo guard believes it until it hears an echo get through.
    if (browserCancelsEcho()) url.searchParams.set("aec", "1");
    if (this.agent) url.searchParams.set("agent", this.agent);
    if (this.user) url.searchParams.set("user", this.user);
    if (resumeToken) url.searchParams.set("resume", resumeToken);
    return url.toString();
  }

  connect() {
    this.closedByUs = false;
    this.open(null);
  }

  open(resumeToken) {
    this.setStatus(resumeToken ? "reconnecting" : "connecting");
    this.ready = false;
    this.lastError = null;
    const socket = new WebSocket(this.url(resumeToken), ["realtime", KEY_SUBPROTOCOL + this.key]);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (message) => this.onMessage(message);
    socket.onclose = (event) => this.onClose(socket, event, resumeToken);
    this.socket = socket;
    this.stats.connects += 1;
  }

  onMessage(message) {
    if (typeof message.data !== "string") {
      this.stats.audioFramesReceived += 1;
      this.dispatchEvent(
        new CustomEvent("audio", { detail: { itemId: this.audioItemId, pcm: message.data } }),
      );
      return;
    }
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (error) {
      console.warn("AURA: unreadable server event", error);
      return;
    }
    this.track(event);
    this.dispatchEvent(new CustomEvent("server-event", { detail: event }));
  }

  track(event) {
    switch (event.type) {
      case "session.created":
        this.send({
          type: "session.update",
          session: {
            type: "realtime",
            audio: {
              input: { format: { type: "audio/pcm", rate: this.sessionRate } },
              output: { format: { type: "audio/pcm", rate: this.sessionRate } },
            },
          },
        });
        break;
      case "session.updated":
        if (!this.ready) {
          this.ready = true;
          this.attempt = 0;
          this.droppedAt = null;
          this.setStatus("open");
        }
        break;
      case "aura.session.created":
        if (event.resumed) {
          this.stats.resumes += 1;
          this.dispatchEvent(new CustomEvent("resumed", { detail: event }));
        }
        this.sessionId = event.session_id;
        this.resumeToken = event.resume_token;
        break;
      case "response.output_item.added":
        if (event.item && event.item.type === "message") this.audioItemId = event.item.id;
        break;
      case "error":
        this.lastError = event.error;
        break;
      default:
        break;
    }
  }

  onClose(socket, event, resumeToken) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.ready = false;
    if (this.closedByUs) {
      this.setStatus("closed", "You ended the conversation.");
      return;
    }
    if (this.dropping) {
      // drop(): the server echoes our close code, but this stands for a lost connection.
      this.dropping = false;
      this.reconnect();
      return;
    }
    if (ENDED_CLOSE_CODES.has(event.code)) {
      this.setStatus("closed", ENDED_CLOSE_CODES.get(event.code));
      return;
    }
    if (FATAL_CLOSE_CODES.has(event.code)) {
      this.setStatus("error", FATAL_CLOSE_CODES.get(event.code));
      return;
    }
    if (event.code === CLOSE_BAD_REQUEST) {
      if (resumeToken) {
        // The session could not be resumed (expired, or the server forgot it): start afresh.
        this.resumeToken = null;
        this.dispatchEvent(new CustomEvent("restarted"));
        this.open(null);
      } else {
        this.setStatus("error", (this.lastError && this.lastError.message) || "Bad request.");
      }
      return;
    }
    this.reconnect();
  }

  reconnect() {
    // A dropped connection (network, server restart, 1011): resume while the window lasts.
    const now = Date.now();
    if (this.droppedAt === null) this.droppedAt = now;
    if (now - this.droppedAt > this.resumeWindowMs) {
      this.setStatus("error", "The connection was lost.");
      return;
    }
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
    this.attempt += 1;
    this.setStatus("reconnecting");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closedByUs) this.open(this.resumeToken);
    }, delay);
  }

  setStatus(status, reason = "") {
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: { status, reason } }));
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  send(event) {
    if (!this.isOpen) return null;
    this.sentEvents += 1;
    const eventId = `evt_widget_${this.sentEvents}`;
    this.socket.send(JSON.stringify({ event_id: eventId, ...event }));
    return eventId;
  }

  sendAudio(pcm) {
    if (!this.isOpen || !this.ready) return false;
    this.socket.send(pcm);
    this.stats.audioFramesSent += 1;
    return true;
  }

  /** Simulate or handle a network drop: close the socket without ending the conversation. */
  drop() {
    if (!this.socket) return;
    this.dropping = true;
    this.socket.close(4000, "dropped");
  }

  close() {
    this.closedByUs = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.socket) this.socket.close(1000, "ended by the user");
    else this.setStatus("closed", "You ended the conversation.");
  }
}
