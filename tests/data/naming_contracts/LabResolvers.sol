// SPDX-License-Identifier: MIT
// Two small resolvers for the naming tests (compiled with solcjs at test time):
//   Wild     - an ENSIP-10 extended resolver answering for any name under its node
//   Offchain - an EIP-3668 resolver: resolve() reverts with OffchainLookup, the gateway
//              answers, resolveWithProof() returns the gateway's bytes (no signature: lab only)
pragma solidity ^0.8.20;

contract Wild {
    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == 0x9061b923 || id == 0x01ffc9a7;
    }

    function resolve(bytes calldata name, bytes calldata data) external pure returns (bytes memory) {
        bytes4 sel = bytes4(data[:4]);
        if (sel == 0x3b3b57de) {
            return abi.encode(address(uint160(0xB0B)));
        }
        if (sel == 0x59d1d43c) {
            (, string memory key) = abi.decode(data[4:], (bytes32, string));
            return abi.encode(string.concat("wild:", key, ":", string(name[1:1 + uint8(name[0])])));
        }
        revert("unsupported record");
    }
}

error OffchainLookup(address sender, string[] urls, bytes callData, bytes4 callbackFunction, bytes extraData);

contract Offchain {
    string[] private urls;

    constructor(string[] memory _urls) {
        urls = _urls;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == 0x9061b923 || id == 0x01ffc9a7;
    }

    function resolve(bytes calldata name, bytes calldata data) external view returns (bytes memory) {
        revert OffchainLookup(address(this), urls, data, this.resolveWithProof.selector, name);
    }

    function resolveWithProof(bytes calldata response, bytes calldata) external pure returns (bytes memory) {
        return response;
    }
}
