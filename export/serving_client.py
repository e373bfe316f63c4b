"""Client for a colorizer served by TF Serving (REST or gRPC).

    # Serve the export (official image; CPU):
    docker run -p 8500:8500 -p 8501:8501 \
      -v "$PWD/exported/saved_model/colorizer:/models/colorizer" \
      -e MODEL_NAME=colorizer tensorflow/serving

    python export/serving_client.py photo.jpg out.png --host=localhost --protocol=rest
    python export/serving_client.py photo.jpg out.png --host=localhost --protocol=grpc

Both use the colorize_bytes signature: the photo goes as encoded bytes (base64 in REST JSON,
as TF Serving expects for tensors named *_bytes) and comes back as PNG bytes.
"""

import argparse
import base64
import json
import sys
import urllib.request

SIGNATURE = "colorize_bytes"


def rest_url(host, port, model_name):
    return f"http://{host}:{port}/v1/models/{model_name}:predict"


def rest_request(image_bytes_list, signature=SIGNATURE):
    """JSON body of a REST predict request (row format, one instance per image)."""
    return {
        "signature_name": signature,
        "instances": [
            {"image_bytes": {"b64": base64.b64encode(b).decode("ascii")}} for b in image_bytes_list
        ],
    }


def parse_rest_response(body):
    """[(png bytes, class probabilities)] from a REST predict response (dict or JSON text)."""
    if isinstance(body, (str, bytes)):
        body = json.loads(body)
    if "error" in body:
        raise RuntimeError(f"TF Serving error: {body['error']}")
    results = []
    for prediction in body["predictions"]:
        png = prediction["png_bytes"]
        png = base64.b64decode(png["b64"] if isinstance(png, dict) else png)
        results.append((png, list(prediction.get("class_probs", []))))
    return results


def grpc_request(image_bytes_list, model_name, signature=SIGNATURE):
    """A tensorflow_serving PredictRequest for the colorize_bytes signature."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    request.inputs["image_bytes"].CopyFrom(
        tf.make_tensor_proto(list(image_bytes_list), dtype=tf.string)
    )
    return request


def parse_grpc_response(response):
    """[(png bytes, class probabilities)] from a PredictResponse."""
    import tensorflow as tf

    pngs = tf.make_ndarray(response.outputs["png_bytes"])
    probs = tf.make_ndarray(response.outputs["class_probs"])
    return [(bytes(p), list(map(float, c))) for p, c in zip(pngs, probs, strict=True)]


def send_rest(image_bytes, host, port, model_name, timeout=30):
    body = json.dumps(rest_request([image_bytes])).encode()
    request = urllib.request.Request(
        rest_url(host, port, model_name), data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return parse_rest_response(response.read())[0]


def send_grpc(image_bytes, host, port, model_name, timeout=30):
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(f"{host}:{port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(grpc_request([image_bytes], model_name), timeout=timeout)
    return parse_grpc_response(response)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Colorize a photo with a TF Serving colorizer.")
    parser.add_argument("input_image")
    parser.add_argument("output_png")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--port", type=int, default=None, help="default 8501 (REST) or 8500 (gRPC)")
    parser.add_argument("--model_name", default="colorizer")
    args = parser.parse_args(argv)
    with open(args.input_image, "rb") as f:
        image_bytes = f.read()
    port = args.port or (8501 if args.protocol == "rest" else 8500)
    send = send_rest if args.protocol == "rest" else send_grpc
    try:
        png, probs = send(image_bytes, args.host, port, args.model_name)
    except OSError as e:
        print(f"error: cannot reach TF Serving at {args.host}:{port} ({e})", file=sys.stderr)
        return 2
    with open(args.output_png, "wb") as f:
        f.write(png)
    top = max(range(len(probs)), key=probs.__getitem__) if probs else None
    print(f"Wrote {args.output_png}" + (f"; top class {top} ({probs[top]:.2f})" if probs else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
