// fragscope lab: resolve ENS names with ENS's own client library (@ensdomains/ensjs, over
// viem), as the independent check of fragscope's ENS method (tests/test_lab_ens_clients.py).
// usage: node ens_client.mjs RPC_URL CHAIN_ID UNIVERSAL_RESOLVER REGISTRY TEXT_KEYS NAME...
//   TEXT_KEYS is comma-separated. Prints one JSON object: name -> {addr, coins, text,
//   contenthash} or {error}. ensjs asks the Universal Resolver (ENSIP-23) and runs the
//   ENSIP-21 batch gateway locally (viem's x-batch-gateway:true support).
import { createPublicClient, http } from "viem";
import {
  getAddressRecord,
  getContentHashRecord,
  getTextRecord,
} from "@ensdomains/ensjs/public";

const [rpcUrl, chainId, universalResolver, registry, textKeys, ...names] = process.argv.slice(2);
const chain = {
  id: Number(chainId),
  name: "fragscope-lab",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [rpcUrl] } },
  contracts: {
    ensUniversalResolver: { address: universalResolver },
    ensRegistry: { address: registry },
  },
};
const client = createPublicClient({ chain, transport: http(rpcUrl), ccipRead: {} });
const STRICT = process.env.ENS_STRICT === "1";
const out = {};
for (const name of names) {
  try {
    // strict: ENSIP-23 errors (HttpError, ResolverError) throw instead of reading as null.
    const eth = await getAddressRecord(client, { name, coin: 60, strict: STRICT });
    const btc = await getAddressRecord(client, { name, coin: 0, strict: STRICT });
    const text = {};
    for (const key of textKeys.split(",").filter(Boolean)) {
      const value = await getTextRecord(client, { name, key, strict: STRICT });
      if (value) text[key] = value;
    }
    const ch = await getContentHashRecord(client, { name, strict: STRICT });
    out[name] = {
      addr: eth ? eth.value : null,
      coins: btc ? { 0: btc.value } : {},
      text,
      contenthash: ch ? `${ch.protocolType}://${ch.decoded}` : null,
    };
  } catch (err) {
    const reason = err.cause?.data?.errorName ?? err.name;
    out[name] = { error: reason, message: String(err.shortMessage ?? err.message).slice(0, 200) };
  }
}
process.stdout.write(JSON.stringify(out) + "\n");
