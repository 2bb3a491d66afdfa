document.getElementById("lk-form-post").submit();
