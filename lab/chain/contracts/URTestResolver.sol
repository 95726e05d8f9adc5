// SPDX-License-Identifier: Apache-2.0
// fragscope lab: ENS's ur.gtest.eth test resolver, reproduced. ENS documents the name as the
// check that a client resolves through the Universal Resolver: a UR client gets
// 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE, a client that walks the registry itself gets
// 0x1111111111111111111111111111111111111111 (docs/naming.md, "ENS entry points").
// How: to the UR, supportsInterface says ENSIP-10 (extended) and resolve() answers the
// first address; to anyone else it says legacy profiles only and addr() answers the second.
pragma solidity 0.8.26;

contract URTestResolver {
    bytes4 private constant EXTENDED_RESOLVER = 0x9061b923; // ENSIP-10
    bytes4 private constant ADDR = 0x3b3b57de; // addr(bytes32), EIP-137
    bytes4 private constant ADDR_COIN = 0xf1cb7e06; // addr(bytes32,uint256), ENSIP-9
    bytes4 private constant TEXT = 0x59d1d43c; // text(bytes32,string), ENSIP-5
    uint256 private constant COIN_ETH = 60;
    address private constant VIA_UR = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;
    address private constant VIA_WALK = 0x1111111111111111111111111111111111111111;

    error UnsupportedResolverProfile(bytes4 selector);

    address public immutable universalResolver;

    constructor(address ur) {
        universalResolver = ur;
    }

    function supportsInterface(bytes4 interfaceId) external view returns (bool) {
        if (msg.sender == universalResolver) return interfaceId == EXTENDED_RESOLVER;
        return interfaceId == ADDR || interfaceId == ADDR_COIN || interfaceId == TEXT;
    }

    function addr(bytes32) external pure returns (address) {
        return VIA_WALK;
    }

    function addr(bytes32, uint256 coinType) external pure returns (bytes memory) {
        return coinType == COIN_ETH ? abi.encodePacked(VIA_WALK) : bytes("");
    }

    function text(bytes32, string calldata key) external pure returns (string memory) {
        return _text(key, false);
    }

    function resolve(bytes calldata, bytes calldata data) external pure returns (bytes memory) {
        bytes4 sel = bytes4(data);
        if (sel == ADDR) return abi.encode(VIA_UR);
        if (sel == ADDR_COIN) {
            (, uint256 coinType) = abi.decode(data[4:], (bytes32, uint256));
            return abi.encode(coinType == COIN_ETH ? abi.encodePacked(VIA_UR) : bytes(""));
        }
        if (sel == TEXT) {
            (, string memory key) = abi.decode(data[4:], (bytes32, string));
            return abi.encode(_text(key, true));
        }
        revert UnsupportedResolverProfile(sel);
    }

    function _text(string memory key, bool viaUr) internal pure returns (string memory) {
        if (keccak256(bytes(key)) != keccak256("description")) return "";
        return viaUr ? "via the Universal Resolver" : "via a registry walk";
    }
}
