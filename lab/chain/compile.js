// fragscope lab: compile the lab's own Solidity contracts (contracts/*.sol) with solcjs from
// node_modules (no compiler download) through the standard-JSON interface.
// usage: node compile.js OUT_DIR [SRC_DIR]
//   -> OUT_DIR/<Contract>.json = {contractName, sourceName, compiler, abi, bytecode}
// SRC_DIR defaults to ./contracts.
// Exit status 1 with the compiler's messages on stderr when any source has an error.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const outDir = process.argv[2];
if (!outDir) {
  process.stderr.write("usage: node compile.js OUT_DIR [SRC_DIR]\n");
  process.exit(2);
}
const srcDir = process.argv[3] || path.join(__dirname, "contracts");
const sources = {};
for (const file of fs.readdirSync(srcDir).sort()) {
  if (file.endsWith(".sol")) {
    sources[file] = { content: fs.readFileSync(path.join(srcDir, file), "utf8") };
  }
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    // ganache 7.9.2 runs the shanghai hardfork: solc 0.8.26 defaults to cancun (MCOPY),
    // which ganache would reject as an invalid opcode.
    evmVersion: "shanghai",
    optimizer: { enabled: true, runs: 200 },
    // No metadata hash: the bytecode then depends only on the sources and these settings.
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
for (const e of out.errors || []) process.stderr.write(e.formattedMessage + "\n");
if (errors.length) process.exit(1);
fs.mkdirSync(outDir, { recursive: true });
for (const [file, contracts] of Object.entries(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = { contractName: name, sourceName: file, compiler: solc.version(),
                       abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
    fs.writeFileSync(path.join(outDir, name + ".json"), JSON.stringify(artifact, null, 1) + "\n");
  }
}
