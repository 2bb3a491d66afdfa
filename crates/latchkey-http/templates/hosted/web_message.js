(function () {
  // The answer goes to the window that opened (popup) or framed (silent authentication) this
  // page, and only if that window is at the callback's origin: postMessage drops it otherwise.
  var form = document.getElementById("lk-web-message");
  var response = {};
  Array.prototype.forEach.call(form.elements, function (field) {
    response[field.name] = field.value;
  });
  function send() {
    var target = window.opener || window.parent;
    target.postMessage({ type: "authorization_response", response: response }, form.getAttribute("data-origin"));
  }
  // A page the user must read first (a new recovery code) sends when its button is pressed.
  var button = document.getElementById("lk-web-message-send");
  if (button) {
    button.addEventListener("click", send);
  } else {
    send();
  }
})();
