// The `debug` package as the bundled shards see it: mqtt-packet's parser traces every step
// through it, off unless DEBUG names it. Off here for good: the real one loads tty, util and
// supports-color into every isolate for lines nobody turns on in a broker.
'use strict';
function off() {}
off.enabled = false;
off.extend = () => off;
module.exports = () => off;
