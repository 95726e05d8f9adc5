// fragscope lab: resolve UNS names with Unstoppable Domains' own library
// (@unstoppabledomains/resolution 9.3.3) over local chains, as the independent check of
// fragscope's multi-chain UNS method (tests/test_naming_uns_layers.py).
// usage: node uns_client.mjs CONFIG_JSON NAME...
//   CONFIG_JSON = {"l1": {url, reader}, "polygon": {url, reader}, "base": {url, reader},
//                  "tlds": {tld: "POL" | "BASE"}, "keys": [record keys]}
// Prints one JSON object: name -> {records} or {error}. The library routes a name by its
// TLD's registration chain, which it normally fetches from UD's API: "tlds" is preset here
// so nothing leaves the machine.
import { createRequire } from "module";

const require = createRequire(import.meta.url);
const { Resolution } = require("@unstoppabledomains/resolution");
const Tlds = require("@unstoppabledomains/resolution/build/utils/Tlds").default;

const [configJson, ...names] = process.argv.slice(2);
const config = JSON.parse(configJson);
Tlds.supportedTlds = Object.keys(config.tlds);
Tlds.tldsMeta = Object.fromEntries(
  Object.entries(config.tlds).map(([tld, chain]) => [
    tld,
    { namingService: "UNS", registrationBlockchain: chain },
  ]),
);
const layer = (c, network, blockchain) => ({
  url: c.url,
  network,
  proxyReaderAddress: c.reader,
  blockchain,
});
const resolution = new Resolution({
  sourceConfig: {
    uns: {
      locations: {
        Layer1: layer(config.l1, "lab-l1", "ETH"),
        Layer2: layer(config.polygon, "lab-polygon", "POL"),
        base: layer(config.base, "lab-base", "BASE"),
      },
    },
  },
});
const out = {};
for (const name of names) {
  try {
    out[name] = { records: await resolution.records(name, config.keys) };
  } catch (err) {
    out[name] = { error: err.code ?? err.name, message: String(err.message).slice(0, 200) };
  }
}
process.stdout.write(JSON.stringify(out) + "\n");
