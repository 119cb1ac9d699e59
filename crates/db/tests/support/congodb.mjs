// CongoDB, the MongoDB wire-protocol emulator inside npm's
// @push.rocks/smartmongo 2.2.0, in memory on loopback, for lord-db's
// emulator-backed MongoDB tests (crates/db/tests/support/mongo.rs starts
// it). Arguments: the folder holding the unpacked package (`package/`)
// and its runtime dependencies (`node_modules/`), and the port. Prints
// `ready` once it listens; exits when its standard input closes, so a
// test binary that dies takes the server with it.
const [dir, port] = process.argv.slice(2);
const { CongoServer } = await import(`${dir}/package/dist_ts/congodb/index.js`);
const server = new CongoServer({ port: Number(port), host: '127.0.0.1', storage: 'memory' });
await server.start();
console.log('ready');
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
