// The page the browser test loads, bundled by esbuild once per React
// version: components built on every hook, rendered in StrictMode (which
// mounts each effect twice), and what they show written into the DOM
// with data-testid marks the test reads.

import { Parley } from "@parley/client";
import { createElement as h, StrictMode, useState, version } from "react";
import { createRoot } from "react-dom/client";

import {
  ParleyProvider,
  useChannel,
  useChannelEvent,
  useConnectionState,
  useMembers,
  useMessages,
  usePresence,
  usePublications,
  useTyping,
  useUnread,
} from "../dist/index.js";

function Status() {
  return h("p", { "data-testid": "state" }, useConnectionState());
}

function Feed({ channel }) {
  const publications = usePublications(channel, { limit: 3 });
  const { state } = useChannel(channel);
  return h(
    "section",
    null,
    h("p", { "data-testid": "feed-state" }, state),
    h(
      "ul",
      { "data-testid": "feed" },
      publications.map((publication) => h("li", { key: publication.offset }, `${publication.offset}:${publication.data.text}`)),
    ),
  );
}

function People({ room }) {
  const members = useMembers(room);
  const { me, count } = usePresence(room);
  const { typers } = useTyping(room);
  return h(
    "section",
    null,
    h("p", { "data-testid": "members" }, members.map((member) => member.user).sort().join(",")),
    h("p", { "data-testid": "presence" }, `${me?.user ?? "-"}/${count}`),
    h("p", { "data-testid": "typers" }, typers.map((typer) => typer.user).sort().join(",")),
  );
}

function Chat({ talk }) {
  const { messages, loading, send } = useMessages(talk);
  const { subscription } = useChannel(talk);
  const [events, setEvents] = useState(0);
  useChannelEvent(subscription, "event", () => setEvents((count) => count + 1));
  window.send = (text) => send(text).then((message) => message.id);
  return h(
    "section",
    null,
    h("p", { "data-testid": "loading" }, String(loading)),
    h("p", { "data-testid": "events" }, String(events)),
    h(
      "ul",
      { "data-testid": "messages" },
      messages.map((message) => h("li", { key: message.id }, message.deleted_at === undefined ? `${message.author}:${message.text}` : `${message.author}:(deleted)`)),
    ),
  );
}

function Unread({ talk }) {
  const { of } = useUnread({ channels: [talk] });
  return h("p", { "data-testid": "unread" }, String(of(talk)));
}

function App({ parley, channels }) {
  return h(
    ParleyProvider,
    { client: parley },
    h(Status),
    h(Feed, { channel: channels.feed }),
    h(People, { room: channels.room }),
    h(Chat, { talk: channels.talk }),
    h(Unread, { talk: channels.talk }),
  );
}

window.reactVersion = version;

window.start = async ({ url, app, token, channels }) => {
  const parley = new Parley(url, { app, token });
  const root = createRoot(document.getElementById("root"));
  root.render(h(StrictMode, null, h(App, { parley, channels })));
  window.unmount = () => root.unmount();
  await parley.connect();
};
