// SPDX-License-Identifier: Apache-2.0
// fragscope lab: an ENSIP-10 resolver whose answers live off chain (EIP-3668 CCIP-read).
// resolve() always reverts with OffchainLookup; the client fetches the answer from one of the
// gateway URLs and hands it to resolveWithProof(), which checks it before returning it.
//
// Answer scheme (a lab stand-in for the ECDSA-signed answers of ENS's OffchainResolver):
//   gateway response  = abi.encode(bytes result, bytes32 binding)
//   binding           = keccak256(abi.encodePacked(sender, keccak256(request), keccak256(result)))
//   request           = the callData of the OffchainLookup (resolve(bytes,bytes) calldata)
// It binds an answer to this contract and to the exact request, so a gateway answer for another
// name, another record or another resolver is rejected; it does not authenticate the gateway.
pragma solidity 0.8.26;

contract OffchainResolver {
    // EIP-3668 section "Contract interface".
    error OffchainLookup(
        address sender, string[] urls, bytes callData, bytes4 callbackFunction, bytes extraData
    );
    error InvalidGatewayResponse(bytes32 expected, bytes32 got);

    bytes4 private constant EXTENDED_RESOLVER = 0x9061b923;
    bytes4 private constant ERC165 = 0x01ffc9a7;

    string[] public urls;

    constructor(string[] memory gatewayUrls) {
        urls = gatewayUrls;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == EXTENDED_RESOLVER || interfaceId == ERC165;
    }

    // ENSIP-10 entry point: the request sent to the gateway is this very call, and the same
    // bytes travel back in extraData so the callback can check the binding.
    function resolve(bytes calldata name, bytes calldata data) external view returns (bytes memory) {
        bytes memory request = abi.encodeWithSelector(this.resolve.selector, name, data);
        revert OffchainLookup(
            address(this), urls, request, this.resolveWithProof.selector, request
        );
    }

    function resolveWithProof(bytes calldata response, bytes calldata extraData)
        external
        view
        returns (bytes memory)
    {
        (bytes memory result, bytes32 binding) = abi.decode(response, (bytes, bytes32));
        bytes32 expected = keccak256(
            abi.encodePacked(address(this), keccak256(extraData), keccak256(result))
        );
        if (binding != expected) revert InvalidGatewayResponse(expected, binding);
        return result;
    }
}
