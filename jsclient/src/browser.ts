// Entry of the <script> bundle (dist/wsevents.js, also served by the Go
// core): pages get the seed's global `Ws` and the whole API as `wsevents`.

import * as wsevents from './index.js';

const g = globalThis as { Ws?: unknown; wsevents?: unknown };
g.Ws = wsevents.Ws;
g.wsevents = wsevents;
