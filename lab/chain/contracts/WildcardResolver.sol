// SPDX-License-Identifier: Apache-2.0
// fragscope lab: an ENSIP-10 extended resolver that answers for every name below the node
// it is set on (the lab sets it on wild.eth, so *.wild.eth resolves without per-name records).
// Answers are derived from the first label, so a client that encodes the name wrongly gets a
// visibly different answer (or the NodeMismatch revert below).
pragma solidity 0.8.26;

contract WildcardResolver {
    // ENSIP-10: interface id of resolve(bytes,bytes); ERC-165 of supportsInterface itself.
    bytes4 private constant EXTENDED_RESOLVER = 0x9061b923;
    bytes4 private constant ERC165 = 0x01ffc9a7;
    // Selectors of the inner calls this resolver answers (EIP-137, ENSIP-9, ENSIP-5).
    bytes4 private constant ADDR = 0x3b3b57de; // addr(bytes32)
    bytes4 private constant ADDR_COIN = 0xf1cb7e06; // addr(bytes32,uint256)
    bytes4 private constant TEXT = 0x59d1d43c; // text(bytes32,string)
    uint256 private constant COIN_ETH = 60; // SLIP-44 coin type of ether (ENSIP-9)

    error UnsupportedResolverProfile(bytes4 selector);
    error NodeMismatch(bytes32 expected, bytes32 got);
    error MalformedName();

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == EXTENDED_RESOLVER || interfaceId == ERC165;
    }

    // ENSIP-10: name is DNS wire format (RFC 1035 section 3.1), data an ABI-encoded resolver
    // call whose node is the namehash of the full name; the result is that call's ABI return.
    function resolve(bytes calldata name, bytes calldata data) external pure returns (bytes memory) {
        bytes32 node = bytes32(data[4:36]);
        bytes32 expected = _namehash(name, 0);
        if (node != expected) revert NodeMismatch(expected, node);
        bytes calldata label = _firstLabel(name);
        bytes4 selector = bytes4(data[:4]);
        if (selector == ADDR) {
            return abi.encode(labelAddress(string(label)));
        }
        if (selector == ADDR_COIN) {
            (, uint256 coinType) = abi.decode(data[4:], (bytes32, uint256));
            if (coinType == COIN_ETH) {
                return abi.encode(abi.encodePacked(labelAddress(string(label))));
            }
            return abi.encode(bytes(""));
        }
        if (selector == TEXT) {
            (, string memory key) = abi.decode(data[4:], (bytes32, string));
            return abi.encode(string.concat("wildcard:", string(label), ":", key));
        }
        revert UnsupportedResolverProfile(selector);
    }

    // The address answered for a label: the low 20 bytes of keccak256(label).
    function labelAddress(string memory label) public pure returns (address) {
        return address(uint160(uint256(keccak256(bytes(label)))));
    }

    function _firstLabel(bytes calldata name) private pure returns (bytes calldata) {
        if (name.length == 0) revert MalformedName();
        uint256 len = uint8(name[0]);
        if (len == 0 || name.length < 1 + len) revert MalformedName();
        return name[1:1 + len];
    }

    // EIP-137 namehash computed over a DNS-encoded name, starting at offset.
    function _namehash(bytes calldata name, uint256 offset) private pure returns (bytes32) {
        if (offset >= name.length) revert MalformedName();
        uint256 len = uint8(name[offset]);
        if (len == 0) return bytes32(0);
        if (name.length < offset + 1 + len) revert MalformedName();
        bytes32 labelHash = keccak256(name[offset + 1:offset + 1 + len]);
        return keccak256(abi.encodePacked(_namehash(name, offset + 1 + len), labelHash));
    }
}
