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

interface IRegistry {
    function resolver(bytes32 node) external view returns (address);
}

interface IERC165 {
    function supportsInterface(bytes4 id) external view returns (bool);
}

// A minimal Universal Resolver: resolve(dnsName, data) -> (result, resolver). It walks up
// the registry (ENSIP-10), uses resolve(bytes,bytes) on extended resolvers and the legacy
// call on exact matches, and bubbles reverts (so an OffchainLookup keeps the resolver as
// sender, which a client must refuse when it called the UR).
contract LabUniversalResolver {
    IRegistry public immutable registry;

    constructor(IRegistry r) {
        registry = r;
    }

    function namehashAt(bytes memory name, uint256 offset) internal pure returns (bytes32) {
        uint256 len = uint8(name[offset]);
        if (len == 0) {
            return bytes32(0);
        }
        bytes32 rest = namehashAt(name, offset + 1 + len);
        bytes32 label;
        assembly {
            label := keccak256(add(add(name, 33), offset), len)
        }
        return keccak256(abi.encodePacked(rest, label));
    }

    function resolve(bytes calldata name, bytes calldata data) external view returns (bytes memory, address) {
        bytes memory n = name;
        uint256 offset = 0;
        address resolver;
        while (true) {
            resolver = registry.resolver(namehashAt(n, offset));
            if (resolver != address(0) || uint8(n[offset]) == 0) {
                break;
            }
            offset += 1 + uint8(n[offset]);
        }
        require(resolver != address(0), "no resolver");
        bool extended;
        try IERC165(resolver).supportsInterface(0x9061b923) returns (bool ok) {
            extended = ok;
        } catch {}
        bool success;
        bytes memory result;
        if (extended) {
            (success, result) = resolver.staticcall(abi.encodeWithSelector(0x9061b923, n, data));
            if (success) {
                result = abi.decode(result, (bytes));
            }
        } else {
            require(offset == 0, "wildcard without ENSIP-10");
            (success, result) = resolver.staticcall(data);
        }
        if (!success) {
            assembly {
                revert(add(result, 32), mload(result))
            }
        }
        return (result, resolver);
    }
}
