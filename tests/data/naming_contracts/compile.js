// Compile LabResolvers.sol with the solc npm package; prints {"Wild": {abi, bytecode}, ...}.
const fs = require("fs");
const path = require("path");
const solc = require(process.argv[2]);
const src = fs.readFileSync(path.join(__dirname, "LabResolvers.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "LabResolvers.sol": { content: src } },
  settings: { evmVersion: "paris", outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) { console.error(errors.map((e) => e.formattedMessage).join("\n")); process.exit(1); }
const result = {};
for (const [name, c] of Object.entries(out.contracts["LabResolvers.sol"])) {
  result[name] = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
}
process.stdout.write(JSON.stringify(result));
